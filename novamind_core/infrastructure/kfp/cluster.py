"""What a compiled pipeline carries to a Kubeflow cluster, step by step (kfp-kubernetes).

A pod has no ``.env``, no local store and no MLflow file: every step gets its settings from
the ``ml-config`` ConfigMap and its keys and credentials from the ``ml-secrets`` Secret
(never baked into the IR), the resources its work needs (training steps more; the
Transformer and the GNN may ask for a GPU and fall back to the CPU), retries with
backoff for transient failures, and no step cache: a cached step could hand one dataset
version's results to a run on another. The KFP local runner ignores the Kubernetes
parts but honours retries: `novamind pipeline run` builds its pipeline without them
(``local_build``), since a failure on one machine is rarely transient and 30 + 60 s of
backoff would only delay its report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

CONFIG_MAP = "ml-config"
SECRET = "ml-secrets"
GPU_SETTING = "NOVAMIND_PIPELINE_GPU"  # set by `novamind pipeline compile --gpu`
LOCAL_SETTING = "NOVAMIND_PIPELINE_LOCAL"  # set while `pipeline run` builds its pipeline

# ConfigMap key -> environment variable of every step
CONFIG_ENV = {
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI",
    "mlflow_s3_endpoint_url": "MLFLOW_S3_ENDPOINT_URL",
    "store_uri": "NOVAMIND_STORE_URI",
    "s3_endpoint_url": "NOVAMIND_S3_ENDPOINT_URL",
    "log_level": "NOVAMIND_LOG_LEVEL",
    "max_forecast_horizon": "NOVAMIND_MAX_FORECAST_HORIZON",
    "use_ensemble": "NOVAMIND_USE_ENSEMBLE",
}
# Secret key -> environment variable of every step
SECRET_ENV = {
    "encryption_key": "NOVAMIND_ENCRYPTION_KEY",
    "audit_key": "NOVAMIND_AUDIT_KEY",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}
# Secret keys a step can do without (the audit checkpoints default beside the store)
OPTIONAL_SECRET_ENV = {"audit_checkpoint_url": "NOVAMIND_AUDIT_CHECKPOINT_URL"}


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    may_use_gpu: bool = False


LIGHT = Resources("500m", "1", "1Gi", "2Gi")
DATA = Resources("1", "2", "2Gi", "6Gi")
TRAINING = Resources("2", "4", "4Gi", "12Gi", may_use_gpu=True)
TUNING = Resources("2", "4", "4Gi", "8Gi")


@contextlib.contextmanager
def local_build() -> Iterator[None]:
    """While a pipeline is built for the local runner: its steps get no retries."""
    before = os.environ.get(LOCAL_SETTING)
    os.environ[LOCAL_SETTING] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LOCAL_SETTING, None)
        else:
            os.environ[LOCAL_SETTING] = before


def wire(task, resources: Resources = LIGHT):
    """Give ``task`` the cluster's settings and secrets, its resources, retries with
    backoff (not in a local build), no cache, and (when compiled with ``--gpu`` and it can
    use one) a GPU."""
    from kfp import kubernetes

    kubernetes.use_config_map_as_env(task, CONFIG_MAP, CONFIG_ENV)
    kubernetes.use_secret_as_env(task, SECRET, SECRET_ENV)
    kubernetes.use_secret_as_env(task, SECRET, OPTIONAL_SECRET_ENV, optional=True)
    task.set_cpu_request(resources.cpu_request).set_cpu_limit(resources.cpu_limit)
    task.set_memory_request(resources.memory_request).set_memory_limit(resources.memory_limit)
    if os.environ.get(LOCAL_SETTING) != "1":
        task.set_retry(
            num_retries=2, backoff_duration="30s", backoff_factor=2.0, backoff_max_duration="600s"
        )
    task.set_caching_options(enable_caching=False)
    if resources.may_use_gpu and os.environ.get(GPU_SETTING) == "1":
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
        kubernetes.add_node_selector(task, "nvidia.com/gpu.present", "true")
        kubernetes.add_toleration(
            task, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"
        )
    return task
