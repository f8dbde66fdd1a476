"""Component: irregular reports and wearables → a regular daily grid per patient."""

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def impute(
    dataset_version: str,
    target: str,
    horizon: int,
    seed: int,
    parent_run_id: str,
    grid: Output[Dataset],
    metrics: Output[Metrics],
):
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "impute",
        parent_run_id,
        metrics,
        steps.impute,
        headline=("patients", "patient_days"),
        dataset_version=dataset_version,
        target=target,
        horizon=horizon,
        seed=seed,
        grid=grid,
    )
