"""Component: check the stored dataset (integrity, contracts); open the MLflow run."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def validate(
    dataset_version: str,
    target: str,
    horizon: int,
    seed: int,
    run_tag: str,
    report: Output[Artifact],
    metrics: Output[Metrics],
) -> NamedTuple(
    "ValidateOutputs", [("version", str), ("fingerprint", str), ("parent_run_id", str)]
):
    from collections import namedtuple
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import validate_step
    from novamind_core.infrastructure.registry import tracking
    from novamind_core.infrastructure.settings import get_settings

    limit = get_settings().max_forecast_horizon
    if horizon > limit:
        raise ValueError(f"horizon {horizon} exceeds NOVAMIND_MAX_FORECAST_HORIZON={limit}")
    spec = ForecastSpec.for_run(target, horizon, seed)
    result = validate_step(dataset_version, Path(report.path))
    parent = tracking.start_pipeline_run(
        "symptom-forecasting",
        {**spec.to_dict(), "dataset_version": result["version"], "run_tag": run_tag},
    )
    with tracking.step_run(parent, "validate"):
        tracking.log_metrics({"expectations": result["expectations"]})
    metrics.log_metric("expectations_evaluated", result["expectations"])
    outputs = namedtuple("ValidateOutputs", ["version", "fingerprint", "parent_run_id"])
    return outputs(result["version"], result["fingerprint"], parent)
