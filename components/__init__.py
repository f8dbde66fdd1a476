"""KFP components of the NovaMind pipelines: thin wrappers, one job each.

Every component runs in the image named by ``NOVAMIND_COMPONENT_IMAGE`` (built from the
repository's Dockerfile) on a cluster, and in the current environment under the KFP
local runner. Its body only translates KFP artifacts to paths and calls novamind_core.
"""
