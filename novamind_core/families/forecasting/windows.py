"""Sliding forecast windows: context days up to an origin, target days after it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from novamind_core.families.forecasting.imputation import BIOMETRICS, KEY, SYMPTOMS


def feature_columns(target: str) -> list[str]:
    """Per-day model inputs: the target first, then other symptoms, then wearables."""
    ordered = [target] + [s for s in SYMPTOMS if s != target] + list(BIOMETRICS)
    columns = []
    for name in ordered:
        columns += [name, f"{name}_observed", f"{name}_days_since"]
    return [*columns, "dow_sin", "dow_cos"]


@dataclass
class Scaler:
    """Standardization fitted on training rows only (stored with the model)."""

    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, grid: pd.DataFrame, columns: list[str]) -> Scaler:
        values = grid[columns].astype(float)
        std = values.std().replace(0, 1.0).fillna(1.0)
        return cls(values.mean().fillna(0.0).to_dict(), std.to_dict())

    def transform(self, grid: pd.DataFrame | Mapping, columns: list[str]) -> np.ndarray:
        """Scaled (rows, columns) of a grid DataFrame or a mapping of column arrays."""
        mean = np.array([self.mean.get(c, 0.0) for c in columns])
        std = np.array([self.std.get(c, 1.0) for c in columns])
        if isinstance(grid, pd.DataFrame):
            values = grid[columns].to_numpy(dtype=float)
        else:
            values = np.column_stack([np.asarray(grid[c], dtype=float) for c in columns])
        return ((values - mean) / std).astype(np.float32)


@dataclass
class Windows:
    """N forecast problems. ``context`` is scaled; targets are on the instrument's scale."""

    keys: np.ndarray  # (N,) patient pseudonym
    origin: np.ndarray  # (N,) datetime64 origin day (last context day)
    context: np.ndarray  # (N, L, F) scaled features
    history: np.ndarray  # (N, L) target on its own scale (imputed)
    history_observed: np.ndarray  # (N, L)
    target: np.ndarray  # (N, H) target (imputed where not observed)
    target_observed: np.ndarray  # (N, H) 1 where the target day was really observed
    future_dow: np.ndarray  # (N, H) day of week of each target day

    def subset(self, mask: np.ndarray) -> Windows:
        return Windows(**{k: v[mask] for k, v in self.__dict__.items()})

    def __len__(self) -> int:
        return len(self.keys)


def add_calendar(grid: pd.DataFrame | Mapping) -> pd.DataFrame | dict:
    angle = 2 * np.pi * np.asarray(grid["day_of_week"]) / 7
    if isinstance(grid, pd.DataFrame):
        return grid.assign(dow_sin=np.sin(angle), dow_cos=np.cos(angle))
    return {**grid, "dow_sin": np.sin(angle), "dow_cos": np.cos(angle)}


def make_windows(
    grid: pd.DataFrame | Mapping,
    target: str,
    scaler: Scaler,
    context_days: int,
    horizon: int,
    stride: int = 1,
    require_future: bool = True,
) -> Windows:
    """Every origin with ``context_days`` of history (and ``horizon`` days after it).

    The grid is scaled once; windows are gathered by index from the whole grid (rows of a
    patient must be consecutive days, as ``build_daily_grid`` writes them). ``grid`` is a
    DataFrame, or a mapping of column arrays already in patient and day order
    (``daily_grid_columns``).
    """
    if not _sorted(grid):
        if not isinstance(grid, pd.DataFrame):
            raise ValueError("grid columns must be in patient and day order")
        grid = grid.sort_values([KEY, "day"], kind="stable")
    grid = add_calendar(grid)
    scaled = scaler.transform(grid, feature_columns(target))
    y = np.asarray(grid[target], dtype=np.float32)
    seen = np.asarray(grid[f"{target}_observed"], dtype=np.float32)
    dow = np.asarray(grid["day_of_week"])
    days = np.asarray(grid["day"])
    keys = np.asarray(grid[KEY])
    future = horizon if require_future else 0
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([])
    counts = np.diff(np.r_[starts, len(keys)]).astype(int)
    back = np.arange(context_days - 1, -1, -1)
    origin_rows = []
    for start, n in zip(starts, counts, strict=True):
        if n < context_days + future:
            continue
        origins = np.arange(context_days - 1, n - future)[::-1][::stride][::-1]
        origin_rows.append(start + origins)
    if not origin_rows:
        raise ValueError(
            f"no patient has {context_days + future} consecutive days on the daily grid"
        )
    rows = np.concatenate(origin_rows)
    ctx_idx = rows[:, None] - back[None, :]
    steps = np.arange(1, horizon + 1)[None, :]
    if require_future:
        fut_idx = rows[:, None] + steps
        target_values, target_seen, future_dow = y[fut_idx], seen[fut_idx], dow[fut_idx]
    else:
        target_values = np.full((len(rows), horizon), np.nan, np.float32)
        target_seen = np.zeros((len(rows), horizon), np.float32)
        future_dow = (dow[rows][:, None] + steps) % 7
    return Windows(
        keys=keys[rows].astype(object),
        origin=days[rows],
        context=scaled[ctx_idx],
        history=y[ctx_idx],
        history_observed=seen[ctx_idx],
        target=target_values,
        target_observed=target_seen,
        future_dow=future_dow,
    )


def _sorted(grid: pd.DataFrame | Mapping) -> bool:
    """Rows grouped by patient in key order, days ascending within each patient."""
    keys = np.asarray(grid[KEY])
    if len(keys) < 2:
        return True
    same = keys[1:] == keys[:-1]
    days = np.asarray(grid["day"])
    return bool(
        (keys[1:][~same] > keys[:-1][~same]).all() and (days[1:][same] > days[:-1][same]).all()
    )
