"""What the three model families return: forecasts, correlations, medication responses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from novamind_core.domain.observations import BiometricKind, Instrument
from novamind_core.domain.patients import PatientPseudonym
from novamind_core.domain.pharmacogenomics import Phenotype


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """One day ahead: a median forecast and a prediction interval around it."""

    day: date
    horizon: int
    median: float
    lower: float
    upper: float

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError("horizon counts days ahead and starts at 1")
        if not self.lower <= self.median <= self.upper:
            raise ValueError("a forecast interval must satisfy lower <= median <= upper")


@dataclass(frozen=True, slots=True)
class ForecastResult:
    """A symptom trajectory forecast with nominal-coverage intervals."""

    patient: PatientPseudonym
    instrument: Instrument
    points: tuple[ForecastPoint, ...]
    interval_coverage: float  # nominal coverage of [lower, upper], e.g. 0.8
    model_version: str
    feature_importance: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.interval_coverage < 1:
            raise ValueError("interval coverage is a probability strictly between 0 and 1")
        horizons = [p.horizon for p in self.points]
        if horizons != sorted(set(horizons)):
            raise ValueError("forecast points must have distinct, increasing horizons")


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """A lagged association between a biometric and a symptom, with its evidence."""

    biometric: BiometricKind
    instrument: Instrument
    lag_days: int  # the biometric leads the symptom by this many days
    method: str  # "pearson" or "spearman"
    coefficient: float
    p_value: float
    q_value: float  # false-discovery-rate adjusted p-value
    n_pairs: int

    def __post_init__(self) -> None:
        if not -1.0 <= self.coefficient <= 1.0 or math.isnan(self.coefficient):
            raise ValueError("a correlation coefficient lies in [-1, 1]")
        for name in ("p_value", "q_value"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} lies in [0, 1]")
        if self.lag_days < 0:
            raise ValueError("lag_days counts how far the biometric leads; it is >= 0")


@dataclass(frozen=True, slots=True)
class MedicationResponsePrediction:
    """Predicted response to one medication for one patient, with the genetic context."""

    patient: PatientPseudonym
    medication: str
    response_probability: float
    side_effect_probability: float
    confidence: float
    phenotypes: dict[str, Phenotype]
    guidance: str = ""

    def __post_init__(self) -> None:
        for name in ("response_probability", "side_effect_probability", "confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1]")
