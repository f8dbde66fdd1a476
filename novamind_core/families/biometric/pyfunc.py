"""The MLflow pyfunc form of a registered ``biometric-correlator`` version: the engine's
settings (the analysis has no fitted weights) applied to the daily histories it is
given, and the selected symptom predictor (BiLSTM or TFT) run on each patient's last
window."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from novamind_core.families.biometric.analysis import COLUMNS
from novamind_core.families.biometric.signals import KEY, SIGNALS

FORECAST_COLUMNS = ("horizon_days", "median", "lower", "upper")
RESULT_COLUMNS = (KEY, "kind", *(c for c in COLUMNS if c != "method"), *FORECAST_COLUMNS)


class CorrelatorPyfunc(mlflow.pyfunc.PythonModel):
    """Input: daily rows per patient (``patient_key``, ``day``, signals); output: every
    test of each patient's analysis (``kind`` ``correlation``), its directed edges
    (``kind`` ``edge``: coefficient = strength, n_pairs = rows) and, with a predictor,
    its forecast (``kind`` ``forecast``: symptom, horizon_days, median, lower, upper)."""

    predictor = None

    def load_context(self, context) -> None:
        from novamind_core.families.biometric.engine import EngineSettings

        config = json.loads(Path(context.artifacts["config"]).read_text())
        self.settings = EngineSettings.from_dict(config)
        if "predictor" in context.artifacts:
            from novamind_core.families.biometric.served_predictor import load

            self.predictor = load(Path(context.artifacts["predictor"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from novamind_core.families.biometric.alignment import AlignedCohort
        from novamind_core.families.biometric.analysis import analyses_per_patient

        aligned = AlignedCohort.from_frame(model_input)
        frame = results_frame(analyses_per_patient(aligned, self.settings))
        if self.predictor is None:
            return frame
        forecast = forecast_frame(self.predictor, aligned)
        return pd.concat([frame, forecast], ignore_index=True).reindex(columns=list(RESULT_COLUMNS))


def results_frame(analyses) -> pd.DataFrame:
    parts = []
    for analysis in analyses:
        tests = analysis.tests.assign(**{KEY: analysis.patient, "kind": "correlation"})
        edges = analysis.directed.edges
        edges = pd.DataFrame(
            {
                KEY: analysis.patient,
                "kind": "edge",
                "biometric": edges["biometric"],
                "symptom": edges["symptom"],
                "lag_days": edges["lag_days"],
                "coefficient": edges["strength"],
                "p_value": edges["p_value"],
                "q_value": edges["q_value"],
                "n_pairs": edges["n_obs"],
                "significant": True,
            }
        )
        parts += [tests, edges]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame.reindex(columns=list(RESULT_COLUMNS))


def forecast_frame(predictor, aligned) -> pd.DataFrame:
    """One row per patient, symptom and horizon from the patient's last window."""
    from novamind_core.families.biometric.prediction_windows import (
        HORIZON,
        TARGETS,
        check_history,
        windows_from,
    )

    windows = windows_from(aligned, need_target=False, origins="last")
    for i in range(len(windows)):
        check_history(windows.x[i], "the history")
    forecast = predictor.predict(windows)
    n, s = len(windows), len(TARGETS)
    return pd.DataFrame(
        {
            KEY: np.repeat(windows.keys, HORIZON * s),
            "kind": "forecast",
            "symptom": np.tile(np.array(TARGETS, dtype=object), n * HORIZON),
            "horizon_days": np.tile(np.repeat(np.arange(1, HORIZON + 1), s), n),
            "median": forecast.median.reshape(-1).astype(float),
            "lower": forecast.lower.reshape(-1).astype(float),
            "upper": forecast.upper.reshape(-1).astype(float),
        }
    )


def input_example(days: int = 60) -> pd.DataFrame:
    """A made-up patient with typical values: no real patient's data in the registry."""
    rng = np.random.default_rng(0)
    levels = {
        "heart_rate_bpm": (68, 4),
        "hrv_rmssd_ms": (40, 6),
        "sleep_hours": (7, 0.8),
        "steps": (7000, 1500),
        "phq9": (12, 2),
        "gad7": (9, 2),
        "mood": (6, 1),
    }
    frame = pd.DataFrame(
        {KEY: "p_" + "0" * 24, "day": pd.date_range("2025-01-01", periods=days, freq="D")}
    )
    for name in SIGNALS:
        mean, sd = levels[name]
        frame[name] = np.round(np.clip(rng.normal(mean, sd, days), 0, None), 2)
    frame.loc[frame.index % 7 != 0, ["phq9", "gad7"]] = np.nan  # weekly questionnaires
    return frame
