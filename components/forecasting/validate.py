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

    from novamind_core.families.forecasting import steps
    from novamind_core.families.forecasting.family import TRAINING_PIPELINE
    from novamind_core.families.forecasting.params import check_training_params
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.kfp.step_runner import start_pipeline

    check_training_params({"target": target, "horizon": horizon}, composition.settings())
    outputs = namedtuple("ValidateOutputs", ["version", "fingerprint", "parent_run_id"])
    return outputs(
        *start_pipeline(
            TRAINING_PIPELINE,
            steps.run_params(target, horizon, seed),
            run_tag,
            dataset_version,
            steps.TABLES,
            report,
            metrics,
        )
    )
