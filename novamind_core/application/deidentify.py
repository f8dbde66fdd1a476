"""Turn raw tables into what the store keeps: pseudonyms, no direct identifiers."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd

from novamind_core.domain.patients import AGE_BANDS
from novamind_core.domain.ports import Pseudonymizer, Tables

log = logging.getLogger(__name__)

PATIENT_ID = "patient_id"
PATIENT_KEY = "patient_key"  # the pseudonym column in stored tables
DIRECT_IDENTIFIERS = ("name",)
BIRTH_DATE = "birth_date"


def age_bands(birth_dates: pd.Series, as_of: date) -> pd.Series:
    """Coarse age band per birth date, as of ``as_of``."""
    stamp = pd.Timestamp(as_of)
    years = stamp.year - birth_dates.dt.year
    before_birthday = (birth_dates.dt.month > stamp.month) | (
        (birth_dates.dt.month == stamp.month) & (birth_dates.dt.day > stamp.day)
    )
    years = years - before_birthday.astype(int)
    labels = pd.Series(index=birth_dates.index, dtype=object)
    for low, high, label in AGE_BANDS:
        labels[(years >= low) & (years <= high)] = label
    return labels


def deidentify(
    tables: Tables, pseudonymizer: Pseudonymizer, as_of: date
) -> dict[str, pd.DataFrame]:
    """Pseudonymize ``patient_id`` everywhere, drop names, replace birth dates by age bands."""
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        frame = frame.copy()
        if PATIENT_ID in frame:
            frame.insert(0, PATIENT_KEY, pseudonymizer.pseudonymize_series(frame[PATIENT_ID]))
            frame = frame.drop(columns=[PATIENT_ID])
        if BIRTH_DATE in frame:
            position = frame.columns.get_loc(BIRTH_DATE)
            frame.insert(position, "age_band", age_bands(frame[BIRTH_DATE], as_of))
            frame = frame.drop(columns=[BIRTH_DATE])
        frame = frame.drop(columns=[c for c in DIRECT_IDENTIFIERS if c in frame])
        out[name] = frame
    for key in out.get("patients", {}).get(PATIENT_KEY, []):
        log.debug("patient de-identified", extra={"patient_id_hash": key})
    return out
