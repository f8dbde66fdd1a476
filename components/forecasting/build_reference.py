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
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "build_reference",
        parent_run_id,
        metrics,
        steps.build_reference,
        headline=("reference_rows",),
        grid=grid,
        plan=plan,
        target=target,
        horizon=horizon,
        seed=seed,
        bundle=bundle,
        reference=reference,
    )
