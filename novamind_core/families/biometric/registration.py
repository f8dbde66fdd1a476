"""Register a correlation analysis as ``biometric-correlator``: the engine's settings and
the selected symptom predictor as the model, the cohort result, its plots, the
predictors' evaluation and every trained predictor beside it (the HFBN as a model of
MLflow's TensorFlow flavour), through the generic registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
        return {"hfbn_model_uri": log_hfbn_model(hfbn)}

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


def log_hfbn_model(directory: Path) -> str:
    """The trained HFBN, logged into the active run in MLflow's TensorFlow flavour with an
    input example of a made-up patient (daily rows and hourly readings); its model URI."""
    import pandas as pd

    from novamind_core.families.biometric import hfbn
    from novamind_core.families.biometric.alignment import AlignedCohort
    from novamind_core.families.biometric.intraday import hourly
    from novamind_core.families.biometric.prediction_windows import windows_from
    from novamind_core.families.biometric.pyfunc import input_example
    from novamind_core.families.biometric.signals import KEY

    predictor = hfbn.HfbnPredictor.load(directory)
    daily = input_example()
    cohort = AlignedCohort.from_frame(daily)
    rng = np.random.default_rng(0)
    hours = np.arange(len(daily) * 6) % 6 * 4 + 1  # six readings a day, every four hours
    stamps = np.repeat(daily["day"].to_numpy("datetime64[s]"), 6) + (hours * 3600).astype(
        "timedelta64[s]"
    )
    readings = pd.DataFrame(
        {
            KEY: daily[KEY].iloc[0],
            "recorded_at": stamps,
            "heart_rate_bpm": np.round(rng.normal(68, 6, len(stamps)), 1),
            "hrv_rmssd_ms": np.round(rng.lognormal(np.log(40), 0.2, len(stamps)), 1),
        }
    )
    windows = windows_from(cohort, need_target=False, origins="last")
    example = hfbn.input_arrays(windows, predictor.scaling, hourly(readings, cohort))
    return hfbn.log_to_mlflow(predictor, "hfbn", example)
