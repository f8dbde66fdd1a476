"""Component: per-horizon ensemble weights and conformal intervals on validation data."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def fit_ensemble(
    grid: Input[Dataset],
    plan: Input[Artifact],
    transformer: Input[Model],
    xgboost: Input[Model],
    target: str,
    horizon: int,
    seed: int,
    use_ensemble: bool,
    transformer_precision: str,
    parent_run_id: str,
    bundle: Output[Model],
    metrics: Output[Metrics],
):
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import fit_ensemble_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "fit_ensemble"):
        stats = fit_ensemble_step(
            Path(grid.path),
            Path(plan.path),
            ForecastSpec.for_run(target, horizon, seed),
            Path(transformer.path),
            Path(xgboost.path),
            use_ensemble,
            Path(bundle.path),
            transformer_precision,
        )
        tracking.log_metrics(stats)
    for name, value in stats.items():
        metrics.log_metric(name, float(value))
