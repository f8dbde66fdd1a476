"""The container image every component runs in on a cluster."""

import os

BASE_IMAGE = os.environ.get("NOVAMIND_COMPONENT_IMAGE", "novamind/digital-twin:0.1.0")
