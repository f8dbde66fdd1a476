"""Symptom self-reports and wearable biometric samples."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from novamind_core.domain.patients import PatientPseudonym


class Instrument(StrEnum):
    """Self-report instruments and their valid score ranges."""

    PHQ9 = "phq9"  # Patient Health Questionnaire-9, depression, 0-27
    GAD7 = "gad7"  # Generalized Anxiety Disorder-7, anxiety, 0-21
    MOOD = "mood"  # daily mood rating, 0 (worst) - 10 (best)

    @property
    def score_range(self) -> tuple[float, float]:
        return _INSTRUMENT_RANGES[self]


_INSTRUMENT_RANGES = {
    Instrument.PHQ9: (0.0, 27.0),
    Instrument.GAD7: (0.0, 21.0),
    Instrument.MOOD: (0.0, 10.0),
}


class BiometricKind(StrEnum):
    """Wearable measurements, their units and physiologically plausible ranges."""

    HEART_RATE = "heart_rate_bpm"
    HRV_RMSSD = "hrv_rmssd_ms"
    SLEEP_DURATION = "sleep_hours"
    STEPS = "steps"

    @property
    def unit(self) -> str:
        return _BIOMETRIC_UNITS[self]

    @property
    def valid_range(self) -> tuple[float, float]:
        return _BIOMETRIC_RANGES[self]


_BIOMETRIC_UNITS = {
    BiometricKind.HEART_RATE: "beats/min",
    BiometricKind.HRV_RMSSD: "ms",
    BiometricKind.SLEEP_DURATION: "h",
    BiometricKind.STEPS: "steps/day",
}

_BIOMETRIC_RANGES = {
    BiometricKind.HEART_RATE: (25.0, 230.0),
    BiometricKind.HRV_RMSSD: (1.0, 300.0),
    BiometricKind.SLEEP_DURATION: (0.0, 24.0),
    BiometricKind.STEPS: (0.0, 100_000.0),
}


def _check_finite_in_range(name: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}")


@dataclass(frozen=True, slots=True)
class SymptomObservation:
    """One self-reported score at the moment it was recorded."""

    patient: PatientPseudonym
    recorded_at: datetime
    instrument: Instrument
    score: float

    def __post_init__(self) -> None:
        low, high = self.instrument.score_range
        _check_finite_in_range(f"{self.instrument.value} score", self.score, low, high)


@dataclass(frozen=True, slots=True)
class BiometricSample:
    """One wearable measurement at the moment the device recorded it."""

    patient: PatientPseudonym
    recorded_at: datetime
    kind: BiometricKind
    value: float

    def __post_init__(self) -> None:
        low, high = self.kind.valid_range
        _check_finite_in_range(self.kind.value, self.value, low, high)
