"""Irregular wearable records and self-reports → one daily grid per patient (see
``signals`` for the aggregation of each signal). Missing days stay missing.

The grid is held as arrays for the engine: ``values[p, v, d]`` is signal ``v`` of
patient ``p`` on the ``d``-th day since that patient's first record (NaN when the day
has none); ``coverage[p, v, d]`` counts the records behind it. Patients keep their own
calendar: lags are within a patient, so their days need not line up with each other's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from novamind_core.domain.errors import ValidationError
from novamind_core.domain.observations import BiometricKind, Instrument
from novamind_core.families.biometric.signals import AGGREGATION, BIOMETRICS, KEY, SIGNALS

log = logging.getLogger(__name__)
MAX_SPAN_DAYS = 1096  # the days of a patient's history the analysis reads: the last three years
VALID = {
    **{i.value: (i.score_range, "points") for i in Instrument},
    **{b.value: (b.valid_range, b.unit) for b in BiometricKind},
}


@dataclass(frozen=True)
class AlignedCohort:
    keys: np.ndarray  # (P,) pseudonyms
    start: np.ndarray  # (P,) datetime64[D]: each patient's first day
    length: np.ndarray  # (P,) days from first to last record
    values: np.ndarray  # (P, V, D) float64, NaN = no record that day
    coverage: np.ndarray  # (P, V, D) int32 records behind each value

    def signal(self, name: str) -> np.ndarray:
        return self.values[:, SIGNALS.index(name)]

    def subset(self, rows) -> AlignedCohort:
        rows = np.asarray(rows)
        width = int(self.length[rows].max()) if len(rows) else 0
        return AlignedCohort(
            self.keys[rows],
            self.start[rows],
            self.length[rows],
            self.values[rows][:, :, :width],
            self.coverage[rows][:, :, :width],
        )

    def to_frame(self) -> pd.DataFrame:
        """The grid as rows (patient, day) for a pipeline intermediate."""
        p, d = np.nonzero(np.arange(self.values.shape[2])[None, :] < self.length[:, None])
        frame = pd.DataFrame({KEY: self.keys[p], "day": self.start[p] + d.astype("timedelta64[D]")})
        for i, name in enumerate(SIGNALS):
            frame[name] = self.values[p, i, d]
            frame[f"n_{name}"] = self.coverage[p, i, d]
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> AlignedCohort:
        """The grid from daily rows (``KEY``, ``day``, signals; ``n_<signal>`` optional):
        one row per patient and day (a day twice is an error, not overwritten), values in
        their valid ranges, each patient's last ``MAX_SPAN_DAYS`` days (older rows are
        left out and counted in the log: one stray date must not size the grid)."""
        if frame.empty:
            return _empty()
        if frame.duplicated([KEY, "day"]).any():
            raise ValidationError("the daily rows hold a patient's day more than once")
        check_units(frame, "daily rows", SIGNALS)
        frame = _recent(frame)
        day = pd.to_datetime(frame["day"]).to_numpy("datetime64[D]")
        codes, keys = pd.factorize(frame[KEY], sort=True)
        first = np.full(len(keys), np.datetime64("9999-12-31", "D"))
        last = np.full(len(keys), np.datetime64("0001-01-01", "D"))
        np.minimum.at(first, codes, day)
        np.maximum.at(last, codes, day)
        length = (last - first).astype(int) + 1
        offset = (day - first[codes]).astype(int)
        values = np.full((len(keys), len(SIGNALS), int(length.max())), np.nan)
        coverage = np.zeros(values.shape, dtype=np.int32)
        for i, name in enumerate(SIGNALS):
            if name not in frame:
                continue
            column = frame[name].to_numpy(float)
            values[codes, i, offset] = column
            counts = frame.get(f"n_{name}")
            coverage[codes, i, offset] = (
                counts.fillna(0).to_numpy(np.int32) if counts is not None else ~np.isnan(column)
            )
        return cls(np.asarray(keys, dtype=object), first, length, values, coverage)


def _recent(frame: pd.DataFrame) -> pd.DataFrame:
    day = pd.to_datetime(frame["day"])
    last = day.groupby(frame[KEY]).transform("max")
    old = (last - day).dt.days >= MAX_SPAN_DAYS
    if old.any():
        log.warning(
            "%d daily rows older than the last %d days of their patient were left out",
            int(old.sum()),
            MAX_SPAN_DAYS,
        )
        return frame[~old.to_numpy()]
    return frame


def _empty() -> AlignedCohort:
    return AlignedCohort(
        np.array([], dtype=object),
        np.array([], dtype="datetime64[D]"),
        np.array([], dtype=int),
        np.zeros((0, len(SIGNALS), 0)),
        np.zeros((0, len(SIGNALS), 0), dtype=np.int32),
    )


def check_units(frame: pd.DataFrame, table: str, columns) -> None:
    """Every value finite and in its signal's valid range; values out of range are most
    often the wrong unit (minutes of sleep, kilo-steps), so the error says so."""
    for column in columns:
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        given = frame[column].notna().to_numpy()
        (low, high), unit = VALID[column]
        bad = given & ~((values >= low) & (values <= high))
        if bad.any():
            raise ValidationError(
                f"{table}.{column}: {int(bad.sum())} of {int(given.sum())} values lie outside "
                f"[{low:g}, {high:g}] {unit} (first at row {int(np.argmax(bad))}); "
                f"check the unit"
            )


def align(observations: pd.DataFrame, biometrics: pd.DataFrame) -> AlignedCohort:
    """The daily grid of every patient with a symptom report or a wearable record."""
    symptoms = [s for s in SIGNALS if s not in BIOMETRICS]
    for table, frame, columns in (
        ("symptom_observations", observations, symptoms),
        ("biometrics", biometrics, BIOMETRICS),
    ):
        missing = {KEY, "recorded_at"} - set(frame.columns)
        if missing:
            raise ValidationError(f"{table} lacks the column(s) {sorted(missing)}")
        check_units(frame, table, columns)
    daily = [
        _daily(frame, [c for c in columns if c in frame])
        for frame, columns in ((observations, symptoms), (biometrics, BIOMETRICS))
    ]
    rows = pd.concat(daily, axis=1).reset_index()
    return AlignedCohort.from_frame(rows)


def _daily(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per patient and calendar day: each column's aggregate and its record count."""
    day = pd.to_datetime(frame["recorded_at"], utc=True).dt.tz_localize(None).dt.normalize()
    grouped = frame.groupby([frame[KEY], day.rename("day")])[columns]
    out = grouped.agg({c: AGGREGATION[c] for c in columns})
    counts = grouped.count().add_prefix("n_")
    return out.join(counts)
