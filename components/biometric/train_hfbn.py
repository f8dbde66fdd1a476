"""Component: train the TensorFlow HFBN (convolutions over each day's hourly heart-rate
and HRV readings, a transformer across days, masks for what is missing) on the training
patients' windows; its report on the validation and held-out test patients. Its own
component: TensorFlow runs in a process of its own."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_hfbn(
    grid: Input[Dataset],
    readings: Input[Dataset],
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
        "train_hfbn",
        parent_run_id,
        metrics,
        predictor_steps.train_hfbn_step,
        headline=("test_mean_mase", "training_seconds", "peak_rss_mib"),
        grid=grid,
        readings=readings,
        seed=seed,
        max_train_windows=max_train_windows,
        model=model,
        report=report,
    )
