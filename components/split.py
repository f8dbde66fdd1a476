"""Component: time-based split per patient plus held-out whole patients."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def split(
    grid: Input[Dataset],
    target: str,
    horizon: int,
    seed: int,
    parent_run_id: str,
    plan: Output[Artifact],
    metrics: Output[Metrics],
):
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import split_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "split"):
        counts = split_step(
            Path(grid.path), ForecastSpec.for_run(target, horizon, seed), Path(plan.path)
        )
        tracking.log_metrics(counts)
    for name, value in counts.items():
        metrics.log_metric(name, float(value))
