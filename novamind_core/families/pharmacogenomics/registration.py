"""Register a trained medication-response bundle as ``medication-response`` through the
generic registration (gates, aliases, dataset, code version, drift reference)."""

from __future__ import annotations

from pathlib import Path

from novamind_core.families.pharmacogenomics.family import MODEL_NAME
from novamind_core.infrastructure.kfp.artifacts import read_json


def summary_metrics(evaluation: dict) -> dict[str, float]:
    out = {}
    for model, heads in evaluation["models"].items():
        for head, metrics in heads.items():
            for name in ("roc_auc", "brier", "ece"):
                value = metrics.get(name)
                if value is not None and value == value:
                    out[f"{model}.{head}.{name}"] = round(value, 4)
    return out


def register_step(
    bundle: Path,
    evaluation: Path,
    charts: Path,
    reference: Path,
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str = "",
) -> dict:
    from novamind_core.families.pharmacogenomics.pyfunc import (
        MedicationResponsePyfunc,
        input_example,
    )
    from novamind_core.infrastructure.registry.model_registry import register_model

    data = read_json(evaluation / "evaluation.json")
    model = MedicationResponsePyfunc()
    model.load_context(type("Context", (), {"artifacts": {"bundle": str(bundle)}})())
    example = input_example()
    return register_model(
        MODEL_NAME,
        MedicationResponsePyfunc(),
        {"bundle": str(bundle)},
        example,
        model.predict(None, example),
        data["evaluation"],
        data["gates"],
        {"version": dataset_version, "fingerprint": dataset_fingerprint},
        parent_run_id,
        tags={"drugs": str(len(model.predictor.drugs))},
        summary=summary_metrics(data["evaluation"]),
        artifact_dirs={"charts": charts, "evaluation": evaluation},
        trained_by=launched_by,
        reference_dir=reference,
    )
