"""Register a correlation analysis as ``biometric-correlator``: the engine's settings and
the selected symptom predictor as the model, the cohort result, its plots, the
predictors' evaluation and every trained predictor beside it (the HFBN as a model of
MLflow's TensorFlow flavour), through the generic registration."""

from __future__ import annotations

from pathlib import Path

from novamind_core.families.biometric.family import MODEL_NAME
from novamind_core.infrastructure.kfp.artifacts import read_json


def summary_metrics(evaluation: dict) -> dict[str, float]:
    out = {
        "patients": evaluation["patients"],
        "tests": evaluation["tests"],
        "significant": evaluation["significant"],
        "clinically_relevant": evaluation["clinically_relevant"],
        "edges": evaluation["edges"],
        "null_rejection_rate": round(evaluation["null"]["rejection_rate"], 4),
    }
    predictors = evaluation.get("predictors")
    if predictors:
        test = predictors["test"]
        out["predictor_mase"] = round(test[predictors["selected"]]["mean_mase"], 4)
        out["ridge_mase"] = round(test["ridge"]["mean_mase"], 4)
        out["last_value_mase"] = round(test["last_value"]["mean_mase"], 4)
    return out


def register_step(
    analysis: Path,
    charts: Path,
    predictors: Path,
    bilstm: Path,
    tft: Path,
    hfbn: Path,
    aligner: Path,
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str = "",
) -> dict:
    from novamind_core.families.biometric import served_predictor
    from novamind_core.families.biometric.engine import EngineSettings
    from novamind_core.families.biometric.pyfunc import CorrelatorPyfunc, input_example
    from novamind_core.infrastructure.registry.model_registry import register_model

    data = read_json(analysis / "evaluation.json")
    evaluation, gates = data["evaluation"], data["gates"]
    chosen = read_json(predictors / "predictors.json")
    evaluation["predictors"] = chosen
    gates = {**gates, **chosen["gates"]}
    selected = {"bilstm": bilstm, "tft": tft}[chosen["selected"]]
    settings = EngineSettings.from_dict(read_json(analysis / "settings.json"))
    model = CorrelatorPyfunc()
    model.settings = settings
    model.predictor = served_predictor.load(selected)
    example = input_example()
    output = model.predict(None, example)

    def log_hfbn() -> dict[str, str]:
        from novamind_core.families.biometric import hfbn as tf_model

        return {"hfbn_model_uri": tf_model.log_stored(hfbn, "hfbn")}

    return register_model(
        MODEL_NAME,
        CorrelatorPyfunc(),
        {"config": str(analysis / "settings.json"), "predictor": str(selected)},
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
            "predictor": chosen["selected"],
        },
        summary=summary_metrics(evaluation),
        artifact_dirs={  # cohort-level only: figures and fitted weights, no patient row
            "charts": charts,
            "analysis": analysis,
            "predictors": predictors,
            "models/bilstm": bilstm,
            "models/tft": tft,
            "models/aligner": aligner,
        },
        log_extra=log_hfbn,
        trained_by=launched_by,
    )
