"""The signals this family relates, and how a day's records become one daily value.

* ``heart_rate_bpm``, ``hrv_rmssd_ms``: the mean of the day's readings (taken at the
  device's own times); coverage counts the readings.
* ``sleep_hours``: the night's sleep ending that morning — the longest sleep summary
  written that day (a nap is shorter); coverage counts the summaries.
* ``steps``: the day's total — the largest activity summary of the day (devices write
  cumulative counts); coverage counts the summaries.
* ``phq9``, ``gad7``, ``mood``: the mean of the day's self-reports; coverage counts them.

Days are calendar days (UTC). A day without a record stays missing: nothing is
imputed inside the statistics.
"""

from __future__ import annotations

KEY = "patient_key"
BIOMETRICS = ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")
SYMPTOMS = ("phq9", "gad7", "mood")
SIGNALS = (*BIOMETRICS, *SYMPTOMS)
AGGREGATION = {
    "heart_rate_bpm": "mean",
    "hrv_rmssd_ms": "mean",
    "sleep_hours": "max",
    "steps": "max",
    "phq9": "mean",
    "gad7": "mean",
    "mood": "mean",
}
MAX_LAG_LIMIT = 28  # the longest lead the engine tests (days)
DEFAULT_MAX_LAG = 7  # the design document's max_lag
METHODS = ("pearson", "spearman")


def check_signals(names, kind: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """The requested signal names, each one this family knows (a clear error otherwise)."""
    from novamind_core.domain.errors import ValidationError

    names = tuple(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationError(
            f"unknown {kind} {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    if not names:
        raise ValidationError(f"at least one {kind} is needed")
    return names
