"""Component: train the Temporal Fusion Transformer (pytorch-forecasting) on the
training patients' windows; its report on the validation and held-out test patients."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_tft(
    grid: Input[Dataset],
    seed: int,
    max_train_windows: int,
    parent_run_id: str,
    model: Output[Model],
    report: Output[Artifact],
    metrics: Output[Metrics],
):
    from novamind_core.families.biometric import predictor_steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "train_tft",
        parent_run_id,
        metrics,
        predictor_steps.train_tft_step,
        headline=("test_mean_mase", "training_seconds", "peak_rss_mib"),
        grid=grid,
        seed=seed,
        max_train_windows=max_train_windows,
        model=model,
        report=report,
    )
