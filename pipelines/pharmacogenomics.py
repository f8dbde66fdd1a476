"""Pharmacogenomics pipeline: validate → build graphs → split by patient → train GNN ∥
train baselines → evaluate → register ``medication-response``."""

from kfp import dsl

from components.pharmacogenomics.build_graphs import build_graphs
from components.pharmacogenomics.evaluate import evaluate
from components.pharmacogenomics.register import register
from components.pharmacogenomics.split import split
from components.pharmacogenomics.train_baselines import train_baselines
from components.pharmacogenomics.train_gnn import train_gnn
from components.pharmacogenomics.validate import validate
from novamind_core.infrastructure.kfp.cluster import DATA, TRAINING, wire

PIPELINE_NAME = "pharmacogenomics"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Medication response and side-effect risk from drug molecular graphs (GIN) "
    "and patient genetics, against a genotype-blind twin and XGBoost; registered as "
    "medication-response.",
)
def pharmacogenomics(
    dataset_version: str = "latest",
    held_out_share: float = 0.15,
    seed: int = 0,
    epochs: int = 60,
    expected_effects: str = "",
    run_tag: str = "",
    launched_by: str = "",
):
    checked = wire(
        validate(
            dataset_version=dataset_version,
            held_out_share=held_out_share,
            seed=seed,
            epochs=epochs,
            run_tag=run_tag,
        ),
        DATA,
    )
    version = checked.outputs["version"]
    parent = checked.outputs["parent_run_id"]
    graphs = wire(build_graphs(dataset_version=version, parent_run_id=parent), DATA)
    examples = wire(
        split(
            dataset_version=version,
            catalog=graphs.outputs["catalog"],
            held_out_share=held_out_share,
            seed=seed,
            parent_run_id=parent,
        ),
        DATA,
    )
    inputs = {
        "examples": examples.outputs["examples"],
        "catalog": graphs.outputs["catalog"],
        "seed": seed,
        "epochs": epochs,
        "parent_run_id": parent,
    }
    gnn = wire(train_gnn(**inputs), TRAINING)
    baselines = wire(train_baselines(**inputs), TRAINING)
    evaluated = wire(
        evaluate(
            examples=examples.outputs["examples"],
            catalog=graphs.outputs["catalog"],
            gnn=gnn.outputs["model"],
            blind=baselines.outputs["blind"],
            boosted=baselines.outputs["boosted"],
            expected_effects=expected_effects,
            parent_run_id=parent,
        ),
        DATA,
    )
    wire(
        register(
            bundle=evaluated.outputs["bundle"],
            evaluation=evaluated.outputs["evaluation"],
            charts=evaluated.outputs["charts"],
            reference=evaluated.outputs["reference"],
            dataset_version=version,
            dataset_fingerprint=checked.outputs["fingerprint"],
            parent_run_id=parent,
            launched_by=launched_by,
        ),
        DATA,
    )
