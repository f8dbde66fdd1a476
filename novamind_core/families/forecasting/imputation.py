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

from novamind_core.families.forecasting.variables import BIOMETRICS, KEY, SYMPTOMS, VARIABLES

DAYS_SINCE_CAP = 30


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
    days before a patient's first observation. Vectorized over all patients at once (the
    same result as filling each patient's series on its own).
    """
    daily = daily_means(observations, SYMPTOMS).join(
        daily_means(biometrics, BIOMETRICS), how="outer"
    )
    span = daily.reset_index().groupby(KEY, sort=True)["day"].agg(["min", "max"])
    lengths = ((span["max"] - span["min"]).dt.days + 1).to_numpy()
    total = int(lengths.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    days = pd.DatetimeIndex(span["min"]).repeat(lengths) + pd.to_timedelta(offsets, unit="D")
    keys = np.repeat(span.index.to_numpy(), lengths)
    frame = daily.reindex(pd.MultiIndex.from_arrays([keys, days], names=[KEY, "day"]))
    values = {column: frame[column].to_numpy(dtype=float) for column in daily.columns}
    out = impute(values, lengths, fill_values)
    return pd.DataFrame({KEY: keys, "day": days, "day_of_week": days.dayofweek, **out})


def impute(
    values: dict[str, np.ndarray], lengths: np.ndarray, fill_values: dict[str, float]
) -> dict[str, np.ndarray]:
    """The grid's columns from daily values: ``values`` holds one array per variable over
    consecutive patient-days (NaN where the day has no observation), patient after patient,
    ``lengths`` the number of days of each patient. Returns the carried-forward values and
    their ``_observed`` and ``_days_since`` companions."""
    total = int(np.sum(lengths))
    start = np.repeat(np.cumsum(lengths) - lengths, lengths)  # each row's patient's first row
    position = np.arange(total)
    out: dict[str, np.ndarray] = {}
    for column, column_values in values.items():
        observed = ~np.isnan(column_values)
        # row of the last observed day so far (running maximum); a row before the
        # patient's first row belongs to another patient: not seen yet (LOCF per patient)
        last = np.maximum.accumulate(np.where(observed, position, -1))
        seen = last >= start
        out[column] = np.where(
            seen, column_values[np.maximum(last, 0)], fill_values.get(column, 0.0)
        )
        out[f"{column}_observed"] = observed.astype(np.int8)
        since = np.where(seen, position - last, DAYS_SINCE_CAP)
        out[f"{column}_days_since"] = since.clip(0, DAYS_SINCE_CAP).astype(np.int16)
    return out


def daily_grid_columns(
    histories: list[dict[str, np.ndarray]], fill_values: dict[str, float]
) -> dict[str, np.ndarray]:
    """The daily grid of histories that are already daily, as columns (no DataFrame).

    Each history is one patient's rows: ``day`` (datetime64[D], strictly ascending) and
    any of the variables (NaN where missing). The grid is the same as
    ``build_daily_grid`` makes of those rows (one record per day, so each day's mean is
    the value itself); ``KEY`` holds the history's index in ``histories``. Used by the
    server, where a micro-batch of requests must not pay for pandas group-bys."""
    firsts = np.array([h["day"][0] for h in histories], dtype="datetime64[D]")
    lasts = np.array([h["day"][-1] for h in histories], dtype="datetime64[D]")
    lengths = (lasts - firsts).astype(np.int64) + 1
    offsets = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    counts = np.array([len(h["day"]) for h in histories])
    given = np.concatenate([h["day"] for h in histories]).astype("datetime64[D]")
    rows = np.repeat(offsets, counts) + (given - np.repeat(firsts, counts)).astype(np.int64)
    values = {}
    for column in VARIABLES:
        dense = np.full(total, np.nan)
        dense[rows] = np.concatenate(
            [h[column] if column in h else np.full(len(h["day"]), np.nan) for h in histories]
        )
        values[column] = dense
    days = np.repeat(firsts, lengths) + (np.arange(total) - np.repeat(offsets, lengths))
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return {
        KEY: np.repeat(np.arange(len(histories)), lengths),
        "day": days,
        "day_of_week": weekday,
        **impute(values, lengths, fill_values),
    }
