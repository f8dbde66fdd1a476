"""Component: Optuna TPE search of XGBoost parameters, then one model per horizon."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def tune_xgboost(
    grid: Input[Dataset],
    plan: Input[Artifact],
    target: str,
    horizon: int,
    seed: int,
    trials: int,
    optuna_storage: str,
    study_name: str,
    parent_run_id: str,
    model: Output[Model],
    metrics: Output[Metrics],
):
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import tune_xgboost_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "tune_xgboost") as run:
        stats = tune_xgboost_step(
            Path(grid.path),
            Path(plan.path),
            ForecastSpec.for_run(target, horizon, seed),
            trials,
            optuna_storage,
            study_name or f"symptom-forecaster-{run.info.run_id}",
            Path(model.path),
        )
        tracking.log_metrics(stats)
        import mlflow

        mlflow.log_artifact(str(Path(model.path) / "feature_importance.json"))
        mlflow.log_artifact(str(Path(model.path) / "best_params.json"))
    for name, value in stats.items():
        if isinstance(value, int | float):
            metrics.log_metric(name, float(value))
