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
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "fit_ensemble",
        parent_run_id,
        metrics,
        steps.fit_ensemble,
        headline=("weight_transformer_mean", "interval_width_mean"),
        grid=grid,
        plan=plan,
        target=target,
        horizon=horizon,
        seed=seed,
        transformer=transformer,
        xgboost=xgboost,
        use_ensemble=use_ensemble,
        transformer_precision=transformer_precision,
        bundle=bundle,
    )
