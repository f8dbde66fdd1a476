"""Drift monitoring: the policy a check follows and the verdict it reaches.

A feature has drifted when its drift score (by default the Wasserstein distance between
the current and the reference values, divided by the reference's standard deviation)
reaches the feature's threshold. The check refuses to judge a feature with fewer
non-missing current values than the policy's minimum sample size, and a check that
could not judge every feature never reports "no drift".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

PREDICTION = "prediction_h1"


class DriftStatus(StrEnum):
    DRIFT = "drift"
    NO_DRIFT = "no_drift"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class DriftPolicy:
    """Per-feature thresholds (drift score at or above which a feature has drifted)."""

    features: tuple[str, ...]
    thresholds: dict[str, float] = field(default_factory=dict)
    default_threshold: float = 0.5
    method: str = "wasserstein"
    min_samples: int = 200
    prediction: str = PREDICTION

    def __post_init__(self) -> None:
        if not self.features:
            raise ValueError("a drift policy needs at least one feature")
        if self.min_samples < 1:
            raise ValueError("min_samples must be at least 1")
        unknown = set(self.thresholds) - set(self.columns)
        if unknown:
            raise ValueError(f"thresholds for unknown columns: {', '.join(sorted(unknown))}")
        bad = {k: v for k, v in self.thresholds.items() if not v > 0}
        if bad or not self.default_threshold > 0:
            raise ValueError(
                f"drift thresholds must be positive (got {bad or self.default_threshold})"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        """Every checked column: the features, then the model's prediction."""
        return (*self.features, self.prediction)

    def threshold(self, column: str) -> float:
        return self.thresholds.get(column, self.default_threshold)


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    threshold: float
    current_count: int
    score: float | None = None  # None: not judged
    reason: str = ""  # why a column was not judged

    @property
    def judged(self) -> bool:
        return self.score is not None

    @property
    def drifted(self) -> bool:
        return self.score is not None and self.score >= self.threshold


@dataclass(frozen=True)
class DriftResult:
    model: str
    version: str
    method: str
    reference_rows: int
    current_rows: int
    columns: tuple[ColumnDrift, ...]
    note: str = ""  # why nothing could be judged, when nothing could

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def not_judged(self) -> list[str]:
        return [c.column for c in self.columns if not c.judged]

    @property
    def status(self) -> DriftStatus:
        if self.drifted:
            return DriftStatus.DRIFT
        if self.not_judged or not self.columns:
            return DriftStatus.INSUFFICIENT_DATA
        return DriftStatus.NO_DRIFT

    def summary(self) -> str:
        """One line for a person (and for the model version's tag)."""
        if self.status is DriftStatus.DRIFT:
            parts = ", ".join(
                f"{c.column} {c.score:.2f}≥{c.threshold:g}" for c in self.columns if c.drifted
            )
            return f"drift in {parts}"
        if self.status is DriftStatus.NO_DRIFT:
            return f"no drift ({self.current_rows} payloads, {len(self.columns)} columns)"
        if self.note:
            return f"not judged: {self.note}"
        by_reason: dict[str, list[str]] = {}
        for c in self.columns:
            if not c.judged:
                by_reason.setdefault(c.reason, []).append(c.column)
        reasons = "; ".join(f"{', '.join(cols)}: {why}" for why, cols in by_reason.items())
        return f"not judged: {reasons}"
