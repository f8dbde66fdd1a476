"""Patients as the platform sees them: by pseudonym only, with coarse demographics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")


@dataclass(frozen=True, slots=True)
class PatientPseudonym:
    """A keyed-hash pseudonym standing in for a patient identifier (``p_`` + 24 hex)."""

    value: str

    def __post_init__(self) -> None:
        if not _PSEUDONYM.match(self.value):
            raise ValueError("a patient pseudonym is 'p_' followed by 24 lowercase hex digits")

    def __str__(self) -> str:
        return self.value


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    OTHER = "X"


class Diagnosis(StrEnum):
    """Primary psychiatric diagnosis (short codes used in source tables)."""

    MDD = "MDD"  # major depressive disorder
    GAD = "GAD"  # generalized anxiety disorder
    BIPOLAR = "BIPOLAR"  # bipolar disorder
    PTSD = "PTSD"  # post-traumatic stress disorder
    MIXED_ANXIETY_DEPRESSION = "MIXED"  # mixed anxiety-depressive disorder


AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "0-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65+"),
)


def age_band(age_years: int) -> str:
    """Coarse age band that replaces a birth date (data minimization)."""
    if age_years < 0:
        raise ValueError("age cannot be negative")
    for low, high, label in AGE_BANDS:
        if low <= age_years <= high:
            return label
    raise ValueError(f"age {age_years} outside every band")


@dataclass(frozen=True, slots=True)
class PatientProfile:
    """What models may know of a patient: pseudonym and coarse attributes."""

    pseudonym: PatientPseudonym
    age_band: str
    sex: Sex
    diagnosis: Diagnosis
