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
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.forecasting.steps import train_transformer_step
    from novamind_core.infrastructure.registry import tracking

    with tracking.step_run(parent_run_id, "train_transformer"):
        stats = train_transformer_step(
            Path(grid.path),
            Path(plan.path),
            ForecastSpec.for_run(target, horizon, seed),
            epochs,
            encoder_layers,
            decoder_layers,
            Path(model.path),
        )
        tracking.log_metrics(stats)
    for name, value in stats.items():
        metrics.log_metric(name, float(value))
