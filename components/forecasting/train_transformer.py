"""Component: train the teacher-forced quantile Transformer (PyTorch Lightning)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_transformer(
    grid: Input[Dataset],
    plan: Input[Artifact],
    target: str,
    horizon: int,
    seed: int,
    epochs: int,
    encoder_layers: int,
    decoder_layers: int,
    parent_run_id: str,
    model: Output[Model],
    metrics: Output[Metrics],
):
    from novamind_core.families.forecasting import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "train_transformer",
        parent_run_id,
        metrics,
        steps.train_transformer,
        headline=("epochs_run", "best_val_pinball_scaled"),
        grid=grid,
        plan=plan,
        target=target,
        horizon=horizon,
        seed=seed,
        epochs=epochs,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        model=model,
    )
