"""Within-day wearable readings for the HFBN: raw heart-rate and HRV readings → one hourly
bin per patient, day and hour, on the same day grid as the ``AlignedCohort``.

``readings[p, d, h, c]`` is the mean of signal ``c`` (``heart_rate_bpm``,
``hrv_rmssd_ms``) over patient ``p``'s readings in hour ``h`` of the ``d``-th day since
that patient's first day (``cohort.start[p]``); NaN when the hour has none. Days and
hours are UTC calendar days and hours, as in ``alignment``. Sleep and activity summaries
are one per day and stay in the daily grid. Nothing is imputed.

Memory: 1,000 patients × 365 days × 24 × 2 float32 is 70 MB. Windows read their 28 days
out of it on demand (``Intraday.gather``, a batch at a time), never all at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.alignment import AlignedCohort, check_units
from novamind_core.families.biometric.prediction_windows import Windows
from novamind_core.families.biometric.signals import KEY

log = logging.getLogger(__name__)
HOURS = 24
CHANNELS = ("heart_rate_bpm", "hrv_rmssd_ms")


@dataclass(frozen=True)
class Intraday:
    keys: np.ndarray  # (P,) pseudonyms, as in the AlignedCohort
    start: np.ndarray  # (P,) datetime64[D] each patient's first day, as in the AlignedCohort
    readings: np.ndarray  # (P, D, HOURS, 2) float32 hourly means, NaN = no reading that hour

    def rows(self, keys) -> np.ndarray:
        """The row of each patient key (an unknown key is an error)."""
        index = pd.Index(self.keys).get_indexer(pd.Index(np.asarray(keys, dtype=object)))
        if (index < 0).any():
            unknown = np.asarray(keys, dtype=object)[index < 0]
            raise ValidationError(
                f"no intraday grid for {len(set(unknown))} patient(s), e.g. {unknown[0]!r}"
            )
        return index

    def gather(self, windows: Windows) -> np.ndarray:
        """(N, LOOKBACK, HOURS, 2) float32: each window's input days; NaN where the day
        has no reading or lies outside the patient's grid (before the first day)."""
        return self.gather_days(self.rows(windows.keys), windows.days())

    def gather_days(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """(N, L, HOURS, 2) for patient rows (N,) and calendar days (N, L)."""
        width = self.readings.shape[1]
        if width == 0:
            return np.full((*days.shape, HOURS, len(CHANNELS)), np.nan, np.float32)
        offset = (days - self.start[rows][:, None]).astype(int)
        inside = (offset >= 0) & (offset < width)
        out = self.readings[rows[:, None], np.clip(offset, 0, width - 1)]  # a copy
        out[~inside] = np.nan
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long rows (``KEY``, day, hour, heart_rate_bpm, hrv_rmssd_ms), only where an hour
        holds a reading (a pipeline intermediate)."""
        p, d, h = np.nonzero(~np.isnan(self.readings).all(axis=3))
        frame = pd.DataFrame(
            {
                KEY: self.keys[p],
                "day": self.start[p] + d.astype("timedelta64[D]"),
                "hour": h.astype(np.int16),
            }
        )
        for c, name in enumerate(CHANNELS):
            frame[name] = self.readings[p, d, h, c]
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, cohort: AlignedCohort) -> Intraday:
        """The grid from ``to_frame`` rows, on the cohort's patients and days: an hour twice
        is an error; values out of their valid range are an error; rows of patients the
        cohort lacks, or outside a patient's grid, are left out and counted in the log."""
        missing = {KEY, "day", "hour", *CHANNELS} - set(frame.columns)
        if missing:
            raise ValidationError(f"intraday rows lack the column(s) {sorted(missing)}")
        if frame.duplicated([KEY, "day", "hour"]).any():
            raise ValidationError("the intraday rows hold a patient's hour more than once")
        check_units(frame, "intraday rows", CHANNELS)
        hour = frame["hour"].to_numpy()
        if len(hour) and ((hour < 0) | (hour >= HOURS)).any():
            raise ValidationError(f"intraday rows: hours must lie in 0…{HOURS - 1}")
        day = pd.to_datetime(frame["day"]).to_numpy("datetime64[D]")
        values = frame[list(CHANNELS)].to_numpy(np.float64)
        return _grid(cohort, frame[KEY].to_numpy(object), day, hour.astype(int), values, "rows")


def hourly(biometrics: pd.DataFrame, cohort: AlignedCohort) -> Intraday:
    """The hourly grid from the raw wearable table (``KEY``, ``recorded_at``,
    ``heart_rate_bpm``, ``hrv_rmssd_ms``; other columns and summary rows are ignored):
    the mean of each hour's readings per signal. A value out of its valid range is a
    ``ValidationError`` naming the column (as in ``align``)."""
    missing = {KEY, "recorded_at"} - set(biometrics.columns)
    if missing:
        raise ValidationError(f"biometrics lacks the column(s) {sorted(missing)}")
    present = [c for c in CHANNELS if c in biometrics]
    if not present:
        raise ValidationError(f"biometrics holds none of {', '.join(CHANNELS)}")
    check_units(biometrics, "biometrics", present)
    values = np.full((len(biometrics), len(CHANNELS)), np.nan)
    for c, name in enumerate(CHANNELS):
        if name in biometrics:
            values[:, c] = pd.to_numeric(biometrics[name], errors="coerce").to_numpy(float)
    reading = ~np.isnan(values).all(axis=1)
    stamp = pd.to_datetime(biometrics["recorded_at"][reading], utc=True).dt.tz_localize(None)
    day = stamp.dt.normalize().to_numpy("datetime64[D]")
    hour = stamp.dt.hour.to_numpy(int)
    keys = biometrics[KEY].to_numpy(object)[reading]
    return _grid(cohort, keys, day, hour, values[reading], "readings")


def _grid(
    cohort: AlignedCohort,
    keys: np.ndarray,
    day: np.ndarray,
    hour: np.ndarray,
    values: np.ndarray,
    what: str,
) -> Intraday:
    """Mean of ``values`` (n, 2) per (patient, day, hour) cell on the cohort's grid."""
    patients, width = len(cohort.keys), cohort.values.shape[2]
    row = pd.Index(cohort.keys).get_indexer(pd.Index(keys))
    known = row >= 0
    offset = np.zeros(len(row), dtype=int)
    offset[known] = (day[known] - cohort.start[row[known]]).astype(int)
    keep = known & (offset >= 0) & (offset < width)
    if (~keep).any():
        log.warning(
            "%d intraday %s left out: %d of patients the cohort lacks, the rest outside "
            "their patient's day grid",
            int((~keep).sum()),
            what,
            int((~known).sum()),
        )
    cell = (row[keep] * width + offset[keep]) * HOURS + hour[keep]
    cells = patients * width * HOURS
    readings = np.full((cells, len(CHANNELS)), np.nan, dtype=np.float32)
    for c in range(len(CHANNELS)):
        column = values[keep, c]
        seen = ~np.isnan(column)
        total = np.bincount(cell[seen], weights=column[seen], minlength=cells)
        count = np.bincount(cell[seen], minlength=cells)
        filled = count > 0
        readings[filled, c] = total[filled] / count[filled]
    return Intraday(
        np.asarray(cohort.keys, dtype=object),
        np.asarray(cohort.start, dtype="datetime64[D]"),
        readings.reshape(patients, width, HOURS, len(CHANNELS)),
    )
