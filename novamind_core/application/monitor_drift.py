"""Use case: compare what the champion sees in service with what it was trained on."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import pandas as pd

from novamind_core.domain.drift import ColumnDrift, DriftPolicy, DriftResult
from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.domain.model_registry import CHAMPION, ModelRegistry, ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftReport:
    """Drift scores per judged column, and the readable report behind them."""

    scores: dict[str, float]
    html: str
    json: str


class DriftReferences(Protocol):
    def reference(self, name: str, version: str) -> pd.DataFrame:
        """The training reference of a version; NotFoundError when it has none."""


class DriftDetector(Protocol):
    def compare(
        self,
        reference: pd.DataFrame,
        current: pd.DataFrame,
        columns: list[str],
        policy: DriftPolicy,
    ) -> DriftReport: ...


class DriftRecorder(Protocol):
    def record(self, result: DriftResult, report: DriftReport | None) -> None: ...


class DriftAlert(Protocol):
    def send(self, result: DriftResult) -> None: ...


def check_drift(
    name: str,
    registry: ModelRegistry,
    references: DriftReferences,
    detector: DriftDetector,
    current_for: Callable[[ModelVersion], pd.DataFrame],
    policy: DriftPolicy,
    recorder: DriftRecorder | None = None,
    alerts: Sequence[DriftAlert] = (),
    source: str = "payload log",
) -> tuple[DriftResult, DriftReport | None]:
    """Judge drift of ``current_for(champion)`` against the champion's training reference.

    Raises NotFoundError without a champion or reference, ValidationError when the
    current data lacks a monitored feature. Too little data is a verdict, not an error:
    the result says "insufficient data" and why.
    """
    champion = registry.alias(name, CHAMPION)
    if champion is None:
        raise NotFoundError(f"{name} has no champion: drift is judged for the served version")
    reference = references.reference(name, champion.version)
    current = current_for(champion)
    missing = [c for c in policy.features if c not in current.columns]
    if missing and len(current):
        raise ValidationError(
            f"the current data ({source}) lacks monitored column(s) {', '.join(missing)}; "
            f"expected {', '.join(policy.features)}"
        )
    columns = list(policy.columns)
    if policy.prediction not in current.columns and len(current):
        log.warning(
            "the current data has no %s column: prediction drift is not checked",
            policy.prediction,
        )
        columns.remove(policy.prediction)
    empty_note = ""
    if current.empty:
        empty_note = f"the {source} holds no rows for {name} version {champion.version}"
    verdicts, judged = [], []
    for column in columns:
        threshold = policy.threshold(column)
        count = int(current[column].notna().sum()) if column in current else 0
        ref_count = int(reference[column].notna().sum()) if column in reference else 0
        reason = ""
        if ref_count < policy.min_samples:
            reason = f"the reference holds {ref_count} values (minimum {policy.min_samples})"
        elif count < policy.min_samples:
            reason = f"{count} current values, fewer than the minimum {policy.min_samples}"
        verdicts.append(ColumnDrift(column, threshold, count, None, reason))
        if not reason:
            judged.append(column)
    report = None
    if judged:
        report = detector.compare(reference[judged], current[judged], judged, policy)
        verdicts = [_scored(v, report.scores) if v.column in judged else v for v in verdicts]
    result = DriftResult(
        model=name,
        version=champion.version,
        method=policy.method,
        reference_rows=len(reference),
        current_rows=len(current),
        columns=tuple(verdicts),
        note=empty_note,
    )
    if recorder is not None:
        recorder.record(result, report)
    if result.drifted:
        for alert in alerts:
            try:
                alert.send(result)
            except Exception as exc:  # one failing channel must not silence the others
                log.error("drift alert via %s failed: %s", type(alert).__name__, exc)
    return result, report


def _scored(verdict: ColumnDrift, scores: dict[str, float]) -> ColumnDrift:
    """The detector's score; a missing or non-finite one leaves the column not judged."""
    score = scores.get(verdict.column)
    if score is None or not math.isfinite(score):
        return replace(verdict, reason=f"the drift method gave no finite score ({score})")
    return replace(verdict, score=float(score))
