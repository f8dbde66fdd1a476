"""Irregular self-reports and wearable records → one regular daily grid per patient.

Method (time-respecting, no look-ahead): each day takes the mean of that day's
observations; a day without one carries the last observed value forward (LOCF) and
records that it did. Days before a patient's first observation of a variable take the
training-population mean passed in (never a value from the patient's own future).
Every variable gets two companion features: ``<var>_observed`` (1 on days with a real
observation) and ``<var>_days_since`` (days since the last real observation, capped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SYMPTOMS = ("phq9", "gad7", "mood")
BIOMETRICS = ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")
DAYS_SINCE_CAP = 30
KEY = "patient_key"


def daily_means(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Mean of each column per patient and calendar day (UTC)."""
    day = frame["recorded_at"].dt.normalize().rename("day")
    return frame.groupby([frame[KEY], day])[list(columns)].mean()


def build_daily_grid(
    observations: pd.DataFrame,
    biometrics: pd.DataFrame,
    fill_values: dict[str, float],
) -> pd.DataFrame:
    """One row per patient-day from the patient's first to last record.

    ``fill_values`` (one per variable) must come from training data only: they fill the
    days before a patient's first observation.
    """
    daily = daily_means(observations, SYMPTOMS).join(
        daily_means(biometrics, BIOMETRICS), how="outer"
    )
    frames = []
    for key, part in daily.groupby(level=0, sort=True):
        part = part.droplevel(0)
        days = pd.date_range(part.index.min(), part.index.max(), freq="D", name="day")
        frames.append(_fill(part.reindex(days), fill_values).assign(**{KEY: key}))
    grid = pd.concat(frames).reset_index()
    grid["day_of_week"] = grid["day"].dt.dayofweek
    ordered = [KEY, "day", "day_of_week"] + [
        c for c in grid.columns if c not in (KEY, "day", "day_of_week")
    ]
    return grid[ordered]


def _fill(part: pd.DataFrame, fill_values: dict[str, float]) -> pd.DataFrame:
    out = {}
    for column in part.columns:
        values = part[column]
        observed = values.notna()
        run = (~observed).astype(int).groupby(observed.cumsum()).cumsum()
        seen = observed.cumsum() > 0
        out[column] = values.ffill().fillna(fill_values.get(column, 0.0))
        out[f"{column}_observed"] = observed.astype(np.int8)
        out[f"{column}_days_since"] = (
            np.where(seen, run, DAYS_SINCE_CAP).clip(0, DAYS_SINCE_CAP).astype(np.int16)
        )
    return pd.DataFrame(out, index=part.index)
