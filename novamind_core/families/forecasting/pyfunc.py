"""The MLflow pyfunc form of a registered ``symptom-forecaster`` version."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from novamind_core.families.forecasting.variables import KEY, VARIABLES


class ForecasterPyfunc(mlflow.pyfunc.PythonModel):
    """Input: daily history rows per patient; output: forecast rows with 80% intervals."""

    def load_context(self, context) -> None:
        from novamind_core.families.forecasting.bundle import ForecasterBundle

        self.bundle = ForecasterBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.bundle.forecast_history(model_input)


def input_example(fill_values: dict[str, float], days: int) -> pd.DataFrame:
    """A made-up patient at the training means: no real patient's data in the registry."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            KEY: "p_" + "0" * 24,
            "day": pd.date_range("2025-01-01", periods=days, freq="D"),
        }
    )
    for column in VARIABLES:
        base = fill_values.get(column, 0.0)
        frame[column] = np.round(base + rng.normal(0, 0.05 * (abs(base) + 1), days), 2)
    return frame
