"""Component: the baselines on the same windows, every predictor's held-out figures side
by side, the served predictor chosen on the validation patients, the gates."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate_predictors(
    grid: Input[Dataset],
    bilstm: Input[Artifact],
    tft: Input[Artifact],
    hfbn: Input[Artifact],
    aligner: Input[Artifact],
    seed: int,
    parent_run_id: str,
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
):
    from novamind_core.families.biometric import predictor_steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "evaluate_predictors",
        parent_run_id,
        metrics,
        predictor_steps.evaluate_step,
        headline=("selected_test_mean_mase", "ridge_test_mean_mase", "last_value_test_mean_mase"),
        grid=grid,
        seed=seed,
        bilstm=bilstm,
        tft=tft,
        hfbn=hfbn,
        aligner=aligner,
        evaluation=evaluation,
    )
