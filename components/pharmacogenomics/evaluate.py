"""Component: held-out discrimination, calibration and phenotype effects; the gates; the
bundle to register and its drift reference."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate(
    examples: Input[Dataset],
    catalog: Input[Artifact],
    gnn: Input[Model],
    blind: Input[Model],
    boosted: Input[Model],
    expected_effects: str,
    parent_run_id: str,
    evaluation: Output[Artifact],
    charts: Output[Artifact],
    bundle: Output[Model],
    reference: Output[Artifact],
    metrics: Output[Metrics],
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "evaluate",
        parent_run_id,
        metrics,
        steps.evaluate,
        headline=(
            "gnn_side_effect_roc_auc",
            "genotype_blind_side_effect_roc_auc",
            "xgboost_side_effect_roc_auc",
        ),
        examples=examples,
        catalog=catalog,
        gnn=gnn,
        blind=blind,
        boosted=boosted,
        expected_effects=expected_effects,
        evaluation=evaluation,
        charts=charts,
        bundle=bundle,
        reference=reference,
    )
