"""Component: the drift reference (features and forecasts at sampled training origins)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def build_reference(
    grid: Input[Dataset],
    plan: Input[Artifact],
    bundle: Input[Model],
    target: str,
    horizon: int,
    seed: int,
    parent_run_id: str,
    reference: Output[Dataset],
    metrics: Output[Metrics],
):
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import build_reference_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "build_reference"):
        stats = build_reference_step(
            Path(grid.path),
            Path(plan.path),
            ForecastSpec.for_run(target, horizon, seed),
            Path(bundle.path),
            Path(reference.path),
        )
        tracking.log_metrics(stats)
    for name, value in stats.items():
        metrics.log_metric(name, float(value))
