"""Reference forecasts every model must beat: last value, seasonal naive, AutoETS."""

from __future__ import annotations

import numpy as np
import pandas as pd

from novamind_core.families.forecasting.metrics import SEASON


def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(history[:, -1:], horizon, axis=1)


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """Value one season before each target day (the same weekday last week)."""
    steps = np.arange(1, horizon + 1)
    back = SEASON * np.ceil(steps / SEASON).astype(int) - steps  # days before the origin
    return history[:, history.shape[1] - 1 - back]


def auto_ets(history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """statsforecast AutoETS fitted on each window's history."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    n, length = history.shape
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), length),
            "ds": np.tile(np.arange(length), n),
            "y": history.reshape(-1).astype(float),
        }
    )
    forecaster = StatsForecast(models=[AutoETS(season_length=season)], freq=1, n_jobs=1)
    result = forecaster.forecast(df=frame, h=horizon)
    values = result.sort_values(["unique_id", "ds"])["AutoETS"].to_numpy()
    return values.reshape(n, horizon)
