"""The clinician's view of one patient: the twin's answer (asked with the clinician's own
token, so the twin audits the clinician) and the patient's recent observed scores for the
fan charts (read from the encrypted store, audited, when this host holds the store key).
"""

from __future__ import annotations

import re
from html import escape

PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")
LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "mood": "mood"}
RANGES = {"phq9": (0, 27), "gad7": (0, 21), "mood": (0, 10)}
PAST_DAYS = 28


def recent_observations(settings, pseudonym: str) -> dict[str, list[tuple[str, float]]]:
    """(day, score) per symptom over the patient's last 28 days; empty without the key."""
    if settings.encryption_key is None:
        return {}
    from novamind_core.families.forecasting.history import daily_history_source
    from novamind_core.infrastructure import composition

    history = daily_history_source(
        composition.dataset_store(settings), composition.audit_trail("console", settings)
    )
    try:
        frame = history(pseudonym, PAST_DAYS)
    except Exception:  # no dataset stored yet
        return {}
    if frame is None:
        return {}
    out = {}
    for symptom in LABELS:
        if symptom in frame:
            rows = frame[["day", symptom]].dropna()
            out[symptom] = [
                (d.date().isoformat(), float(v)) for d, v in rows.itertuples(index=False)
            ]
    return out


def fan_series(answer: dict) -> dict[str, list[dict]]:
    """Per symptom, the forecast days (day, median, lower, upper) of the parts that came."""
    series: dict[str, list[dict]] = {}
    forecast = answer.get("symptom_forecast")
    if forecast and forecast.get("target"):
        series[forecast["target"]] = [
            {"day": p["day"], "median": p["median"], "lower": p["lower"], "upper": p["upper"]}
            for p in forecast["forecast"]
        ]
    correlations = answer.get("biometric_correlations") or {}
    for p in correlations.get("forecast", []):
        if p["symptom"] in series and forecast and p["symptom"] == forecast.get("target"):
            continue  # the forecaster's own forecast of its target is shown
        series.setdefault(p["symptom"], []).append(
            {
                "day": p["target_day"],
                "median": p["median"],
                "lower": p["lower"],
                "upper": p["upper"],
            }
        )
    return series


def fan_chart(symptom: str, past: list[tuple[str, float]], future: list[dict]) -> str:
    """An SVG fan chart: observed scores as dots, the forecast median as a line inside its
    80% interval."""
    import datetime as dt

    width, height, pad = 560, 230, 40
    days = [dt.date.fromisoformat(d) for d, _ in past] + [
        dt.date.fromisoformat(f["day"]) for f in future
    ]
    if not days:
        return ""
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    low, high = RANGES.get(symptom, (0, 10))

    def sx(day: str) -> float:
        return pad + (dt.date.fromisoformat(day) - first).days / span * (width - 2 * pad)

    def sy(v: float) -> float:
        return height - pad - (v - low) / (high - low) * (height - 2 * pad)

    parts = [
        f'<svg class="fan" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(LABELS.get(symptom, symptom))}: '
        "observed and forecast</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
    ]
    if future:
        upper = " ".join(f"{sx(f['day']):.1f},{sy(f['upper']):.1f}" for f in future)
        lower = " ".join(f"{sx(f['day']):.1f},{sy(f['lower']):.1f}" for f in reversed(future))
        parts.append(f'<polygon class="band" points="{upper} {lower}" fill="#cfe0f5"/>')
        median = " ".join(f"{sx(f['day']):.1f},{sy(f['median']):.1f}" for f in future)
        parts.append(
            f'<polyline class="median" points="{median}" fill="none" stroke="#1f6feb" '
            'stroke-width="2"/>'
        )
    for day, value in past:
        parts.append(
            f'<circle class="observed" cx="{sx(day):.1f}" cy="{sy(value):.1f}" r="3" '
            'fill="#57606a"/>'
        )
    for v in (low, (low + high) / 2, high):
        parts.append(
            f'<text x="{pad - 4}" y="{sy(v) + 3:.1f}" font-size="10" text-anchor="end">{v:g}</text>'
        )
    parts.append(
        f'<text x="{pad}" y="{height - pad + 14}" font-size="10">{first}</text>'
        f'<text x="{width - pad}" y="{height - pad + 14}" font-size="10" '
        f'text-anchor="end">{last}</text>'
        f'<text x="{width / 2}" y="16" font-size="12" text-anchor="middle">'
        f"{escape(LABELS.get(symptom, symptom))}: observed (dots), forecast median "
        "and 80% interval</text></svg>"
    )
    return "".join(parts)
