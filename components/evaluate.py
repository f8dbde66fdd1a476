"""Component: per-horizon metrics vs baselines and champion; gates; fan charts."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate(
    grid: Input[Dataset],
    plan: Input[Artifact],
    bundle: Input[Model],
    target: str,
    horizon: int,
    seed: int,
    parent_run_id: str,
    evaluation: Output[Artifact],
    charts: Output[Artifact],
    metrics: Output[Metrics],
):
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import evaluate_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "evaluate"):
        figures = evaluate_step(
            Path(grid.path),
            Path(plan.path),
            ForecastSpec.for_run(target, horizon, seed),
            Path(bundle.path),
            Path(evaluation.path),
            Path(charts.path),
            validation_passed=True,  # this step only runs after validate succeeded
        )
        tracking.log_metrics(figures)
    for name, value in figures.items():
        metrics.log_metric(name, float(value))
