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
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import impute_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "impute"):
        stats = impute_step(
            dataset_version, ForecastSpec.for_run(target, horizon, seed), Path(grid.path)
        )
        tracking.log_metrics(stats)
    for name, value in stats.items():
        metrics.log_metric(name, float(value))
