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
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "split",
        parent_run_id,
        metrics,
        steps.split,
        headline=("windows_train", "windows_test", "held_out_patients"),
        grid=grid,
        target=target,
        horizon=horizon,
        seed=seed,
        plan=plan,
    )
