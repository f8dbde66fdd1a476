"""The digital twin's integrated recommendations: plain rules that join the parts.

Each rule reads what the served models answered — the symptom forecast, the patient's
lead–lag relations, the ranked medications — and says one thing a clinician can act on,
with the evidence it rests on (the figures, never a model's internals). No model here:
thresholds are configuration (``RuleThresholds``), not clinical advice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WORSE_WHEN_HIGHER = {"phq9": True, "gad7": True, "mood": False}
LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "mood": "mood"}
# what a patient can change: a lead of sleep or activity on a symptom is actionable
ACTIONABLE = {"sleep_hours": "sleep", "steps": "daily steps"}
PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class ForecastPoint:
    """One day of a symptom forecast: the median and its interval."""

    symptom: str
    horizon_days: int
    day: str
    median: float
    lower: float
    upper: float
    source: str  # the model that forecast it


@dataclass(frozen=True)
class Relation:
    """A lead–lag relation of one patient: the biometric of day t − lag with the symptom
    of day t."""

    biometric: str
    symptom: str
    lag_days: int
    coefficient: float
    q_value: float
    significant: bool
    directed: bool = False  # also an edge of the directed (Granger-style) analysis


@dataclass(frozen=True)
class MedicationOption:
    """One ranked candidate drug."""

    rank: int
    drug: str
    efficacy_score: float
    side_effect_risk: float
    cpic_action: str
    dose_adjustment_percent: float | None
    recommendation: str


@dataclass(frozen=True)
class RuleThresholds:
    """When a rule speaks: a forecast change (points of each instrument over the forecast)
    counts as worsening; a relation's |r| counts as strong; a side-effect risk as high."""

    worsening: dict[str, float] = field(
        default_factory=lambda: {"phq9": 3.0, "gad7": 3.0, "mood": 1.0}
    )
    relation_strength: float = 0.3
    high_side_effect_risk: float = 0.5


@dataclass(frozen=True)
class Recommendation:
    kind: str
    priority: str  # high, medium, low
    text: str
    evidence: dict

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "priority": self.priority,
            "text": self.text,
            "evidence": self.evidence,
        }


def worsening(points: list[ForecastPoint], thresholds: RuleThresholds) -> list[Recommendation]:
    """A symptom whose forecast median moves the worse way by at least its threshold
    between the first and the last forecast day (per symptom and model)."""
    found = []
    series: dict[tuple[str, str], list[ForecastPoint]] = {}
    for point in points:
        series.setdefault((point.symptom, point.source), []).append(point)
    for (symptom, source), days in sorted(series.items()):
        if symptom not in WORSE_WHEN_HIGHER or len(days) < 2:
            continue
        days = sorted(days, key=lambda p: p.horizon_days)
        first, last = days[0], days[-1]
        change = last.median - first.median
        worse = change if WORSE_WHEN_HIGHER[symptom] else -change
        limit = thresholds.worsening.get(symptom)
        if limit is None or round(worse, 6) < limit:  # 10.7 - 7.7 is 2.999…: a 3-point rise
            continue
        label = LABELS[symptom]
        verb = "rise" if change > 0 else "fall"
        found.append(
            Recommendation(
                kind="forecast_worsening",
                priority="high",
                text=(
                    f"{label} is forecast to {verb} from {first.median:.1f} to "
                    f"{last.median:.1f} over the next {last.horizon_days} days "
                    f"(80% interval on day {last.horizon_days}: {last.lower:.1f}–"
                    f"{last.upper:.1f}); review the treatment plan."
                ),
                evidence={
                    "symptom": symptom,
                    "source": source,
                    "from_day": first.day,
                    "to_day": last.day,
                    "from_median": round(first.median, 2),
                    "to_median": round(last.median, 2),
                    "change": round(change, 2),
                    "threshold": limit,
                    "interval": [round(last.lower, 2), round(last.upper, 2)],
                },
            )
        )
    return found


def actionable_relations(
    relations: list[Relation], thresholds: RuleThresholds
) -> list[Recommendation]:
    """The strongest significant relation per (behaviour, symptom) whose |r| reaches the
    threshold, for behaviours the patient can change (sleep, steps); a lead (lag ≥ 1)
    is preferred to a same-day relation of the same pair."""
    best: dict[tuple[str, str], Relation] = {}
    for r in relations:
        if r.biometric not in ACTIONABLE or r.symptom not in WORSE_WHEN_HIGHER:
            continue
        if not r.significant or abs(r.coefficient) < thresholds.relation_strength:
            continue
        key = (r.biometric, r.symptom)
        held = best.get(key)
        if held is None or _stronger(r, held):
            best[key] = r
    found = []
    for (biometric, symptom), r in sorted(best.items()):
        helps = (r.coefficient > 0) != WORSE_WHEN_HIGHER[symptom]  # more of it, better symptom
        behaviour, label = ACTIONABLE[biometric], LABELS[symptom]
        when = "on the same day" if r.lag_days == 0 else f"{_days(r.lag_days)} later"
        if helps:
            text = (
                f"More {behaviour} was followed by better {label} {when} for this patient "
                f"(r = {r.coefficient:+.2f}, q = {r.q_value:.3f}); supporting {behaviour} "
                "may help."
            )
        else:
            text = (
                f"More {behaviour} was followed by worse {label} {when} for this patient "
                f"(r = {r.coefficient:+.2f}, q = {r.q_value:.3f}); worth discussing."
            )
        found.append(
            Recommendation(
                kind="actionable_relation",
                priority="medium",
                text=text,
                evidence={
                    "biometric": biometric,
                    "symptom": symptom,
                    "lag_days": r.lag_days,
                    "coefficient": round(r.coefficient, 3),
                    "q_value": r.q_value,
                    "directed": r.directed,
                    "helps": helps,
                },
            )
        )
    return found


def medication_flags(
    options: list[MedicationOption], thresholds: RuleThresholds
) -> list[Recommendation]:
    """Every candidate CPIC says to avoid for this genotype, and every one with a high
    predicted side-effect risk."""
    found = []
    for option in sorted(options, key=lambda o: o.rank):
        if option.cpic_action == "avoid":
            found.append(
                Recommendation(
                    kind="medication_avoid",
                    priority="high",
                    text=f"Avoid {option.drug}: CPIC guidance for this genotype. "
                    f"{option.recommendation}".strip(),
                    evidence={"drug": option.drug, "cpic_action": option.cpic_action},
                )
            )
        if option.side_effect_risk >= thresholds.high_side_effect_risk:
            found.append(
                Recommendation(
                    kind="medication_side_effect_risk",
                    priority="medium",
                    text=(
                        f"{option.drug}: predicted side-effect risk "
                        f"{option.side_effect_risk:.0%} (threshold "
                        f"{thresholds.high_side_effect_risk:.0%})."
                    ),
                    evidence={
                        "drug": option.drug,
                        "side_effect_risk": round(option.side_effect_risk, 3),
                        "threshold": thresholds.high_side_effect_risk,
                    },
                )
            )
    return found


def best_medication(options: list[MedicationOption]) -> Recommendation | None:
    """The best-ranked candidate CPIC does not say to avoid, with its dose adjustment."""
    allowed = [o for o in sorted(options, key=lambda o: o.rank) if o.cpic_action != "avoid"]
    if not allowed:
        return None
    top = allowed[0]
    dose = (
        "standard dosing"
        if top.dose_adjustment_percent in (None, 100, 100.0)
        else f"{top.dose_adjustment_percent:g}% of the standard dose (CPIC)"
    )
    return Recommendation(
        kind="best_medication",
        priority="medium",
        text=(
            f"Best-ranked option: {top.drug} (predicted response {top.efficacy_score:.0%}, "
            f"side-effect risk {top.side_effect_risk:.0%}); {dose}."
        ),
        evidence={
            "drug": top.drug,
            "rank": top.rank,
            "efficacy_score": round(top.efficacy_score, 3),
            "side_effect_risk": round(top.side_effect_risk, 3),
            "cpic_action": top.cpic_action,
            "dose_adjustment_percent": top.dose_adjustment_percent,
        },
    )


def integrate(
    forecast: list[ForecastPoint] | None,
    relations: list[Relation] | None,
    medications: list[MedicationOption] | None,
    thresholds: RuleThresholds | None = None,
) -> list[Recommendation]:
    """Every rule over the parts that arrived (None: the part is missing), joined: a
    worsening symptom names the actionable relations of that symptom and the best-ranked
    medication as what to look at. High priority first."""
    thresholds = thresholds or RuleThresholds()
    worse = worsening(forecast or [], thresholds)
    actionable = actionable_relations(relations or [], thresholds)
    flags = medication_flags(medications or [], thresholds)
    best = best_medication(medications or [])
    joined = []
    for rec in worse:
        symptom = rec.evidence["symptom"]
        levers = [a.evidence for a in actionable if a.evidence["symptom"] == symptom]
        extra = {}
        text = rec.text
        if levers:
            extra["related_behaviours"] = levers
            names = sorted({ACTIONABLE[lever["biometric"]] for lever in levers})
            text += f" Its {' and '.join(names)} led it for this patient."
        if best is not None:
            extra["best_medication"] = best.evidence["drug"]
            text += f" Best-ranked medication: {best.evidence['drug']}."
        joined.append(Recommendation(rec.kind, rec.priority, text, {**rec.evidence, **extra}))
    found = joined + actionable + flags + ([best] if best is not None else [])
    return sorted(found, key=lambda r: PRIORITY_ORDER[r.priority])


def _stronger(a: Relation, b: Relation) -> bool:
    """A lead beats a same-day relation; otherwise the larger |r|."""
    if (a.lag_days >= 1) != (b.lag_days >= 1):
        return a.lag_days >= 1
    return abs(a.coefficient) > abs(b.coefficient)


def _days(n: int) -> str:
    return "one day" if n == 1 else f"{n} days"
