"""The forecaster's drift features and training reference, computed alike in training
and serving.

For each monitored variable: the last value observed within the model's context window
at the forecast origin (missing when the window holds none). Training computes it from
the daily grid, serving from the history a request carries, so both sides describe the
same quantity. The reference is a seeded sample of training origins: those features and
the model's own horizon-1 median forecast there; it holds no pseudonym and no date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from novamind_core.domain.drift import PREDICTION
from novamind_core.families.forecasting.split import SplitPlan
from novamind_core.families.forecasting.variables import KEY, VARIABLES
from novamind_core.families.forecasting.windows import make_windows

MONITORED_FEATURES: tuple[str, ...] = VARIABLES


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


def build_reference(
    bundle, grid: pd.DataFrame, plan: SplitPlan, max_rows: int = 5000, seed: int = 0
) -> pd.DataFrame:
    """Features and the bundle's horizon-1 median at up to ``max_rows`` training origins
    (training patients, days before the validation window)."""
    spec = bundle.spec
    train = grid[(grid["day"] < plan.validation_start) & ~grid[KEY].isin(plan.held_out_patients)]
    if train.empty:
        raise ValueError("the grid has no training days to build a drift reference from")
    days = train.groupby(KEY).size()
    origins = int((days - spec.context_days + 1).clip(lower=0).sum())
    stride = max(1, math.ceil(origins / max_rows))
    windows = make_windows(
        train,
        spec.target,
        bundle.scaler,
        spec.context_days,
        spec.horizon,
        stride=stride,
        require_future=False,
    )
    if len(windows) > max_rows:
        pick = np.sort(np.random.default_rng(seed).choice(len(windows), max_rows, replace=False))
        windows = windows.subset(pick)
    prediction = bundle.forecast(windows).median[:, 0]
    at = pd.DataFrame({KEY: windows.keys, "day": pd.to_datetime(windows.origin)})
    features = at.merge(features_on_grid(train, spec.context_days), on=[KEY, "day"], how="left")
    frame = features[list(MONITORED_FEATURES)].reset_index(drop=True)
    frame[PREDICTION] = prediction.astype(float)
    return frame
