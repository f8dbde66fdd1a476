"""The MLflow pyfunc form of a registered ``biometric-correlator`` version: the engine's
settings (there are no fitted weights: the analysis is the model), applied to the daily
histories it is given."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from novamind_core.families.biometric.analysis import COLUMNS
from novamind_core.families.biometric.signals import KEY, SIGNALS

RESULT_COLUMNS = (KEY, "kind", *(c for c in COLUMNS if c != "method"))


class CorrelatorPyfunc(mlflow.pyfunc.PythonModel):
    """Input: daily rows per patient (``patient_key``, ``day``, signals); output: every
    test of each patient's analysis (``kind`` ``correlation``) and its directed edges
    (``kind`` ``edge``: coefficient = strength, n_pairs = rows)."""

    def load_context(self, context) -> None:
        from novamind_core.families.biometric.engine import EngineSettings

        config = json.loads(Path(context.artifacts["config"]).read_text())
        self.settings = EngineSettings.from_dict(config)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from novamind_core.families.biometric.alignment import AlignedCohort
        from novamind_core.families.biometric.analysis import analyses_per_patient

        aligned = AlignedCohort.from_frame(model_input)
        return results_frame(analyses_per_patient(aligned, self.settings))


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
