"""Component: one example per treatment trial; whole patients to train/validation/test."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def split(
    dataset_version: str,
    catalog: Input[Artifact],
    held_out_share: float,
    seed: int,
    parent_run_id: str,
    examples: Output[Dataset],
    metrics: Output[Metrics],
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "split",
        parent_run_id,
        metrics,
        steps.split,
        headline=("examples", "train_examples", "test_examples"),
        dataset_version=dataset_version,
        catalog=catalog,
        held_out_share=held_out_share,
        seed=seed,
        examples=examples,
    )
