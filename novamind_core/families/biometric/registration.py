"""Register a correlation analysis as ``biometric-correlator``: the engine's settings as
the model, the cohort result and its plots beside it, through the generic registration."""

from __future__ import annotations

from pathlib import Path

from novamind_core.families.biometric.family import MODEL_NAME
from novamind_core.infrastructure.kfp.artifacts import read_json


def summary_metrics(evaluation: dict) -> dict[str, float]:
    return {
        "patients": evaluation["patients"],
        "tests": evaluation["tests"],
        "significant": evaluation["significant"],
        "clinically_relevant": evaluation["clinically_relevant"],
        "edges": evaluation["edges"],
        "null_rejection_rate": round(evaluation["null"]["rejection_rate"], 4),
    }


def register_step(
    analysis: Path,
    charts: Path,
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str = "",
) -> dict:
    from novamind_core.families.biometric.engine import EngineSettings
    from novamind_core.families.biometric.pyfunc import CorrelatorPyfunc, input_example
    from novamind_core.infrastructure.registry.model_registry import register_model

    data = read_json(analysis / "evaluation.json")
    evaluation, gates = data["evaluation"], data["gates"]
    settings = EngineSettings.from_dict(read_json(analysis / "settings.json"))
    model = CorrelatorPyfunc()
    model.settings = settings
    example = input_example()
    output = model.predict(None, example)
    return register_model(
        MODEL_NAME,
        CorrelatorPyfunc(),
        {"config": str(analysis / "settings.json")},
        example,
        output,
        evaluation,
        gates,
        {"version": dataset_version, "fingerprint": dataset_fingerprint},
        parent_run_id,
        tags={
            "max_lag": str(settings.max_lag),
            "method": settings.method,
            "fdr": str(settings.fdr),
        },
        summary=summary_metrics(evaluation),
        artifact_dirs={"charts": charts, "analysis": analysis},  # cohort-level only
        trained_by=launched_by,
    )
