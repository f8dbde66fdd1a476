"""Component: the baselines — the same network without genotype, XGBoost on Morgan
fingerprints and patient features."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_baselines(
    examples: Input[Dataset],
    catalog: Input[Artifact],
    seed: int,
    epochs: int,
    parent_run_id: str,
    blind: Output[Model],
    boosted: Output[Model],
    metrics: Output[Metrics],
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "train_baselines",
        parent_run_id,
        metrics,
        steps.train_baselines,
        headline=("blind_epochs", "blind_train_seconds", "xgboost_train_seconds"),
        examples=examples,
        catalog=catalog,
        seed=seed,
        epochs=epochs,
        blind=blind,
        boosted=boosted,
    )
