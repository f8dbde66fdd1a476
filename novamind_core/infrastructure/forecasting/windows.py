"""Sliding forecast windows: context days up to an origin, target days after it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from novamind_core.infrastructure.forecasting.imputation import BIOMETRICS, KEY, SYMPTOMS


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

    def transform(self, grid: pd.DataFrame, columns: list[str]) -> np.ndarray:
        mean = np.array([self.mean.get(c, 0.0) for c in columns])
        std = np.array([self.std.get(c, 1.0) for c in columns])
        return ((grid[columns].to_numpy(dtype=float) - mean) / std).astype(np.float32)


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


def add_calendar(grid: pd.DataFrame) -> pd.DataFrame:
    angle = 2 * np.pi * grid["day_of_week"] / 7
    return grid.assign(dow_sin=np.sin(angle), dow_cos=np.cos(angle))


def make_windows(
    grid: pd.DataFrame,
    target: str,
    scaler: Scaler,
    context_days: int,
    horizon: int,
    stride: int = 1,
    require_future: bool = True,
) -> Windows:
    """Every origin with ``context_days`` of history (and ``horizon`` days after it)."""
    grid = add_calendar(grid)
    columns = feature_columns(target)
    parts: dict[str, list] = {k: [] for k in Windows.__dataclass_fields__}
    future = horizon if require_future else 0
    for key, part in grid.groupby(KEY, sort=True):
        n = len(part)
        if n < context_days + future:
            continue
        scaled = scaler.transform(part, columns)
        y = part[target].to_numpy(dtype=np.float32)
        seen = part[f"{target}_observed"].to_numpy(dtype=np.float32)
        dow = part["day_of_week"].to_numpy()
        last_origin = n - future - 1
        origins = np.arange(context_days - 1, last_origin + 1)[::-1][::stride][::-1]
        if len(origins) == 0:
            continue
        ctx_idx = origins[:, None] - np.arange(context_days - 1, -1, -1)[None, :]
        parts["keys"].append(np.full(len(origins), key, dtype=object))
        parts["origin"].append(part["day"].to_numpy()[origins])
        parts["context"].append(scaled[ctx_idx])
        parts["history"].append(y[ctx_idx])
        parts["history_observed"].append(seen[ctx_idx])
        if require_future:
            fut_idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
            parts["target"].append(y[fut_idx])
            parts["target_observed"].append(seen[fut_idx])
            parts["future_dow"].append(dow[fut_idx])
        else:
            steps = np.arange(1, horizon + 1)[None, :]
            parts["target"].append(np.full((len(origins), horizon), np.nan, np.float32))
            parts["target_observed"].append(np.zeros((len(origins), horizon), np.float32))
            parts["future_dow"].append((dow[origins][:, None] + steps) % 7)
    if not parts["keys"]:
        raise ValueError(
            f"no patient has {context_days + future} consecutive days on the daily grid"
        )
    return Windows(**{k: np.concatenate(v) for k, v in parts.items()})
