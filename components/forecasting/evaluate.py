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
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "evaluate",
        parent_run_id,
        metrics,
        steps.evaluate,
        headline=("test_ensemble_mase_mean", "test_seasonal_naive_mase_mean"),
        grid=grid,
        plan=plan,
        target=target,
        horizon=horizon,
        seed=seed,
        bundle=bundle,
        evaluation=evaluation,
        charts=charts,
    )
