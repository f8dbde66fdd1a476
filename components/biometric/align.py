"""Component: irregular wearable records and self-reports → one daily grid per patient."""

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def align(
    dataset_version: str,
    parent_run_id: str,
    grid: Output[Dataset],
    readings: Output[Dataset],
    metrics: Output[Metrics],
):
    from novamind_core.families.biometric import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "align",
        parent_run_id,
        metrics,
        steps.align,
        headline=("patients", "patient_days"),
        dataset_version=dataset_version,
        grid=grid,
        readings=readings,
    )
