"""Component: train the GIN medication-response network (PyTorch Lightning)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_gnn(
    examples: Input[Dataset],
    catalog: Input[Artifact],
    seed: int,
    epochs: int,
    parent_run_id: str,
    model: Output[Model],
    metrics: Output[Metrics],
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "train_gnn",
        parent_run_id,
        metrics,
        steps.train_gnn,
        headline=("epochs", "best_val_loss", "train_seconds"),
        examples=examples,
        catalog=catalog,
        seed=seed,
        epochs=epochs,
        model=model,
    )
