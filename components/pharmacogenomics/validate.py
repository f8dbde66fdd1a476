"""Component: check the stored dataset (integrity, contracts); open the MLflow run."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def validate(
    dataset_version: str,
    held_out_share: float,
    seed: int,
    epochs: int,
    run_tag: str,
    report: Output[Artifact],
    metrics: Output[Metrics],
) -> NamedTuple(
    "ValidateOutputs", [("version", str), ("fingerprint", str), ("parent_run_id", str)]
):
    from collections import namedtuple

    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.families.pharmacogenomics.cohort_data import TABLES
    from novamind_core.families.pharmacogenomics.family import TRAINING_PIPELINE
    from novamind_core.infrastructure.kfp.step_runner import start_pipeline

    steps.check_params(held_out_share, seed, epochs)  # refuses bad settings at once
    outputs = namedtuple("ValidateOutputs", ["version", "fingerprint", "parent_run_id"])
    return outputs(
        *start_pipeline(
            TRAINING_PIPELINE,
            steps.run_params(held_out_share, seed, epochs),
            run_tag,
            dataset_version,
            TABLES,
            report,
            metrics,
        )
    )
