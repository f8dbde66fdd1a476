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
    """A lagged association between a biometric and a symptom, with its evidence.

    ``n_effective`` is the sample size the test used after accounting for the two
    series' autocorrelation (at most ``n_pairs``); the interval is the Fisher-z interval
    at that size. ``significant`` comes from the q-value (false discovery rate);
    ``clinically_relevant`` from the strength threshold: both are reported, neither
    implies the other.
    """

    biometric: BiometricKind
    instrument: Instrument
    lag_days: int  # the biometric leads the symptom by this many days
    method: str  # "pearson" or "spearman"
    coefficient: float
    p_value: float
    q_value: float  # false-discovery-rate adjusted p-value
    n_pairs: int
    ci_low: float = -1.0
    ci_high: float = 1.0
    n_effective: float = 0.0
    significant: bool = False
    clinically_relevant: bool = False

    def __post_init__(self) -> None:
        if not -1.0 <= self.coefficient <= 1.0 or math.isnan(self.coefficient):
            raise ValueError("a correlation coefficient lies in [-1, 1]")
        if not -1.0 <= self.ci_low <= self.coefficient <= self.ci_high <= 1.0:
            raise ValueError("a confidence interval satisfies -1 <= low <= r <= high <= 1")
        for name in ("p_value", "q_value"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} lies in [0, 1]")
        if self.lag_days < 0:
            raise ValueError("lag_days counts how far the biometric leads; it is >= 0")
        if self.n_effective > self.n_pairs:
            raise ValueError("the effective sample size cannot exceed the number of pairs")


@dataclass(frozen=True, slots=True)
class CausalEdge:
    """A directed relation biometric → symptom: the biometric ``lag_days`` earlier
    predicts the symptom beyond the symptom's own past (a Granger-style test).
    ``strength`` is the partial correlation of the two given that past."""

    biometric: BiometricKind
    instrument: Instrument
    lag_days: int
    strength: float
    p_value: float
    q_value: float
    n_obs: int

    def __post_init__(self) -> None:
        if not -1.0 <= self.strength <= 1.0 or math.isnan(self.strength):
            raise ValueError("an edge's strength (a partial correlation) lies in [-1, 1]")
        if not (0.0 <= self.p_value <= 1.0 and 0.0 <= self.q_value <= 1.0):
            raise ValueError("p and q values lie in [0, 1]")


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Who or what an analysis left out, and why (never silently)."""

    scope: str  # "patient" or "pair"
    reason: str
    count: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BiometricCorrelationResult:
    """Which wearable signals move with which symptoms, at which lag, in which direction
    (``correlation_strength``: the significant relations, strongest first), the directed
    relations behind them (``causal_graph``), and the temporal patterns a neural model
    finds (empty until that model exists)."""

    correlation_strength: tuple[CorrelationResult, ...]
    temporal_patterns: tuple = ()
    causal_graph: tuple[CausalEdge, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    tests: int = 0  # how many correlation tests the q-values were computed over
    patients: int = 0  # patients the analysis included
    patient: PatientPseudonym | None = None  # None for a cohort-level result


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
