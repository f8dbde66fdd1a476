"""The features the drift monitor compares, computed the same way in training and serving.

For each monitored variable: the last value observed within the model's context window
at the forecast origin (missing when the window holds none). Training computes it from
the daily grid, serving from the history a request carries, so both sides describe the
same quantity.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from novamind_core.infrastructure.forecasting.imputation import BIOMETRICS, KEY, SYMPTOMS

MONITORED_FEATURES: tuple[str, ...] = (*SYMPTOMS, *BIOMETRICS)


def features_on_grid(grid: pd.DataFrame, context_days: int) -> pd.DataFrame:
    """Per grid row (patient-day as origin): the monitored features, plus key and day."""
    out = grid[[KEY, "day"]].copy()
    patient = grid[KEY].to_numpy()
    position = pd.Series(np.arange(len(grid), dtype=float), index=grid.index)
    for name in MONITORED_FEATURES:
        # days since the last real observation, uncapped (the grid's own count stops at 30)
        observed = grid[f"{name}_observed"].to_numpy() > 0
        last = position.where(observed).groupby(patient).ffill()
        recent = (position - last) < context_days
        out[name] = grid[name].where(recent).astype(float)
    return out


def last_observed(history: pd.DataFrame, context_days: int) -> pd.DataFrame:
    """Per patient of a request's daily history: the monitored features at its last day."""
    frame = history.copy()
    frame["day"] = pd.to_datetime(frame["day"])
    last_day = frame.groupby(KEY)["day"].transform("max")
    frame = frame[frame["day"] > last_day - pd.Timedelta(days=context_days)]
    for name in MONITORED_FEATURES:
        if name not in frame:
            frame[name] = float("nan")
    frame = frame.sort_values([KEY, "day"])
    return frame.groupby(KEY)[list(MONITORED_FEATURES)].last().astype(float)


def last_observed_on_grid(grid: Mapping, context_days: int) -> dict[str, np.ndarray]:
    """Per patient of a daily grid given as columns (``daily_grid_columns``), in grid
    order: the monitored features at the patient's last day. The same quantity as
    ``last_observed`` of the daily history the grid was built from (tested), without
    pandas: the server computes it for every micro-batch."""
    keys = np.asarray(grid[KEY])
    change = keys[1:] != keys[:-1]
    starts = np.flatnonzero(np.r_[True, change])
    ends = np.flatnonzero(np.r_[change, True])
    position = np.arange(len(keys))
    out = {}
    for name in MONITORED_FEATURES:
        observed = np.asarray(grid[f"{name}_observed"]) > 0
        last = np.maximum.accumulate(np.where(observed, position, -1))[ends]
        recent = (last >= starts) & (ends - last < context_days)
        out[name] = np.where(recent, np.asarray(grid[name], dtype=float)[ends], np.nan)
    return out
