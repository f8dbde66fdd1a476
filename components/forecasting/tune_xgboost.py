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
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "tune_xgboost",
        parent_run_id,
        metrics,
        steps.tune_xgboost,
        headline=("trials_completed", "best_cv_mae"),
        log_files=(("model", "feature_importance.json"), ("model", "best_params.json")),
        grid=grid,
        plan=plan,
        target=target,
        horizon=horizon,
        seed=seed,
        trials=trials,
        optuna_storage=optuna_storage,
        study_name=study_name,
        model=model,
    )
