"""Behaviour of the digital twin's plain recommendation rules on small hand-made inputs."""

from __future__ import annotations

import pytest

from novamind_core.domain.twin_recommendations import (
    ForecastPoint,
    MedicationOption,
    Recommendation,
    Relation,
    RuleThresholds,
    actionable_relations,
    best_medication,
    integrate,
    medication_flags,
    worsening,
)

DEFAULT = RuleThresholds()


def forecast(symptom, first, last, *, source="tft", days=7, lower=None, upper=None):
    """A forecast of ``days`` days moving linearly from ``first`` to ``last``."""
    points = []
    for h in range(1, days + 1):
        median = first if days == 1 else first + (last - first) * (h - 1) / (days - 1)
        if h == days:
            median = last  # exactly the last value, no interpolation rounding
        points.append(
            ForecastPoint(
                symptom=symptom,
                horizon_days=h,
                day=f"2025-03-{h:02d}",
                median=median,
                lower=median - 2.0 if lower is None or h != days else lower,
                upper=median + 2.0 if upper is None or h != days else upper,
                source=source,
            )
        )
    return points


def relation(
    biometric="sleep_hours",
    symptom="mood",
    lag=1,
    r=0.45,
    q=0.01,
    significant=True,
    directed=False,
):
    return Relation(
        biometric=biometric,
        symptom=symptom,
        lag_days=lag,
        coefficient=r,
        q_value=q,
        significant=significant,
        directed=directed,
    )


def option(
    rank,
    drug,
    *,
    efficacy=0.6,
    risk=0.2,
    action="standard",
    dose=None,
    recommendation="",
):
    return MedicationOption(
        rank=rank,
        drug=drug,
        efficacy_score=efficacy,
        side_effect_risk=risk,
        cpic_action=action,
        dose_adjustment_percent=dose,
        recommendation=recommendation,
    )


# --------------------------------------------------------------------------- worsening


def test_phq9_rising_three_points_is_one_high_priority_worsening_with_its_evidence():
    points = forecast("phq9", 10.0, 13.0, lower=9.5, upper=16.25)

    found = worsening(points, DEFAULT)

    assert len(found) == 1
    rec = found[0]
    assert rec.kind == "forecast_worsening"
    assert rec.priority == "high"
    ev = rec.evidence
    assert ev["symptom"] == "phq9"
    assert ev["source"] == "tft"
    assert ev["change"] == pytest.approx(3.0)
    assert ev["threshold"] == 3.0
    assert ev["interval"] == [9.5, 16.25]
    assert ev["from_day"] == "2025-03-01"
    assert ev["to_day"] == "2025-03-07"
    assert ev["from_median"] == 10.0
    assert ev["to_median"] == 13.0
    assert "PHQ-9" in rec.text
    assert "rise" in rec.text
    assert "10.0" in rec.text and "13.0" in rec.text
    assert "7 days" in rec.text
    assert "9.5" in rec.text and "16.2" in rec.text


def test_phq9_rising_more_than_the_threshold_is_worsening():
    found = worsening(forecast("phq9", 8.0, 14.5), DEFAULT)
    assert [r.evidence["change"] for r in found] == [6.5]


def test_phq9_rising_only_2_9_points_is_not_worsening():
    assert worsening(forecast("phq9", 10.0, 12.9), DEFAULT) == []


def test_phq9_falling_is_not_worsening():
    assert worsening(forecast("phq9", 15.0, 8.0), DEFAULT) == []


def test_gad7_rising_is_worsening_but_falling_is_not():
    rising = worsening(forecast("gad7", 5.0, 9.0), DEFAULT)
    assert len(rising) == 1
    assert rising[0].evidence["symptom"] == "gad7"
    assert "GAD-7" in rising[0].text
    assert worsening(forecast("gad7", 12.0, 4.0), DEFAULT) == []


def test_mood_falling_one_point_is_worsening():
    found = worsening(forecast("mood", 6.0, 5.0), DEFAULT)
    assert len(found) == 1
    rec = found[0]
    assert rec.evidence["symptom"] == "mood"
    assert rec.evidence["change"] == pytest.approx(-1.0)
    assert rec.evidence["threshold"] == 1.0
    assert "fall" in rec.text
    assert "mood" in rec.text


def test_mood_rising_is_not_worsening():
    assert worsening(forecast("mood", 4.0, 8.0), DEFAULT) == []


def test_mood_falling_less_than_one_point_is_not_worsening():
    assert worsening(forecast("mood", 6.0, 5.1), DEFAULT) == []


def test_a_single_day_forecast_gives_nothing():
    assert worsening(forecast("phq9", 10.0, 10.0, days=1), DEFAULT) == []
    # not even when any change at all would count
    zero = RuleThresholds(worsening={"phq9": 0.0, "gad7": 0.0, "mood": 0.0})
    assert worsening(forecast("phq9", 10.0, 10.0, days=1), zero) == []


def test_an_empty_forecast_gives_nothing():
    assert worsening([], DEFAULT) == []


def test_an_unknown_symptom_gives_nothing():
    assert worsening(forecast("pss", 5.0, 25.0), DEFAULT) == []


def test_the_first_and_last_days_are_compared_whatever_the_input_order():
    points = list(reversed(forecast("phq9", 10.0, 14.0)))
    found = worsening(points, DEFAULT)
    assert len(found) == 1
    assert found[0].evidence["from_median"] == 10.0
    assert found[0].evidence["to_median"] == 14.0


def test_points_of_two_sources_are_judged_separately():
    # judged together, tft's first day (10) and lstm's last day (14) would look worsening
    points = forecast("phq9", 10.0, 11.0, source="tft") + forecast(
        "phq9", 13.0, 14.0, source="lstm"
    )
    assert worsening(points, DEFAULT) == []

    points = forecast("phq9", 10.0, 11.0, source="tft") + forecast(
        "phq9", 10.0, 15.0, source="lstm"
    )
    found = worsening(points, DEFAULT)
    assert [r.evidence["source"] for r in found] == ["lstm"]


def test_each_symptom_of_a_mixed_forecast_is_judged_on_its_own():
    points = forecast("phq9", 10.0, 14.0) + forecast("gad7", 8.0, 9.0) + forecast("mood", 7.0, 5.0)
    found = worsening(points, DEFAULT)
    assert sorted(r.evidence["symptom"] for r in found) == ["mood", "phq9"]


def test_custom_worsening_thresholds():
    strict = RuleThresholds(worsening={"phq9": 5.0, "gad7": 3.0, "mood": 1.0})
    assert worsening(forecast("phq9", 10.0, 14.0), strict) == []
    lenient = RuleThresholds(worsening={"phq9": 1.0})
    found = worsening(forecast("phq9", 10.0, 11.5), lenient)
    assert len(found) == 1
    assert found[0].evidence["threshold"] == 1.0
    # a symptom without a threshold is never flagged
    assert worsening(forecast("gad7", 2.0, 20.0), lenient) == []


def test_a_rise_of_exactly_the_threshold_at_display_precision_is_worsening():
    assert len(worsening(forecast("phq9", 7.7, 10.7), DEFAULT)) == 1


# --------------------------------------------------------------------------- relations


def test_sleep_leading_better_mood_is_one_helpful_actionable_relation():
    found = actionable_relations([relation(r=0.45, lag=1, q=0.012)], DEFAULT)

    assert len(found) == 1
    rec = found[0]
    assert rec.kind == "actionable_relation"
    assert rec.priority == "medium"
    assert "More sleep" in rec.text
    assert "better mood" in rec.text
    assert "one day later" in rec.text
    assert "+0.45" in rec.text
    assert "0.012" in rec.text
    assert rec.evidence == {
        "biometric": "sleep_hours",
        "symptom": "mood",
        "lag_days": 1,
        "coefficient": 0.45,
        "q_value": 0.012,
        "directed": False,
        "helps": True,
    }


def test_more_sleep_with_lower_phq9_helps():
    found = actionable_relations([relation(symptom="phq9", r=-0.4, lag=2)], DEFAULT)
    assert len(found) == 1
    assert found[0].evidence["helps"] is True
    assert "better PHQ-9" in found[0].text
    assert "2 days later" in found[0].text


def test_more_steps_with_higher_phq9_does_not_help():
    found = actionable_relations([relation("steps", "phq9", r=0.4)], DEFAULT)
    assert len(found) == 1
    assert found[0].evidence["helps"] is False
    assert "worse PHQ-9" in found[0].text
    assert "daily steps" in found[0].text
    assert "better" not in found[0].text


def test_more_sleep_with_lower_mood_does_not_help():
    found = actionable_relations([relation(symptom="mood", r=-0.5)], DEFAULT)
    assert found[0].evidence["helps"] is False
    assert "worse mood" in found[0].text


def test_a_same_day_relation_says_so():
    found = actionable_relations([relation(lag=0)], DEFAULT)
    assert "on the same day" in found[0].text
    assert found[0].evidence["lag_days"] == 0


@pytest.mark.parametrize(
    "rel",
    [
        relation(significant=False, r=0.8),
        relation(r=0.29),
        relation(r=-0.29, symptom="phq9"),
        relation(biometric="heart_rate", r=0.7),
        relation(biometric="hrv", r=-0.7),
        relation(biometric="sleep_hours", symptom="pss", r=0.7),
    ],
    ids=["not-significant", "weak", "weak-negative", "heart-rate", "hrv", "unknown-symptom"],
)
def test_relations_that_are_not_actionable_give_nothing(rel):
    assert actionable_relations([rel], DEFAULT) == []


def test_relation_exactly_at_the_strength_threshold_counts():
    assert len(actionable_relations([relation(r=0.3)], DEFAULT)) == 1
    assert len(actionable_relations([relation(r=-0.3)], DEFAULT)) == 1


def test_a_lead_is_chosen_over_a_stronger_same_day_relation():
    same_day = relation(symptom="phq9", lag=0, r=-0.7)
    lead = relation(symptom="phq9", lag=2, r=-0.35)
    for order in ([same_day, lead], [lead, same_day]):
        found = actionable_relations(order, DEFAULT)
        assert len(found) == 1
        assert found[0].evidence["lag_days"] == 2
        assert found[0].evidence["coefficient"] == -0.35


def test_among_leads_the_largest_absolute_r_wins():
    rels = [
        relation(lag=1, r=0.35),
        relation(lag=3, r=-0.6),
        relation(lag=2, r=0.5),
    ]
    found = actionable_relations(rels, DEFAULT)
    assert len(found) == 1
    assert found[0].evidence["lag_days"] == 3


def test_a_non_significant_lead_does_not_displace_a_significant_same_day_relation():
    rels = [relation(lag=0, r=0.5), relation(lag=1, r=0.9, significant=False)]
    found = actionable_relations(rels, DEFAULT)
    assert [r.evidence["lag_days"] for r in found] == [0]


def test_each_behaviour_symptom_pair_gives_its_own_recommendation():
    rels = [
        relation("sleep_hours", "mood", r=0.4),
        relation("sleep_hours", "phq9", r=-0.4),
        relation("steps", "mood", r=0.5),
        relation("steps", "mood", lag=2, r=0.3),
    ]
    found = actionable_relations(rels, DEFAULT)
    pairs = [(r.evidence["biometric"], r.evidence["symptom"]) for r in found]
    assert sorted(pairs) == [
        ("sleep_hours", "mood"),
        ("sleep_hours", "phq9"),
        ("steps", "mood"),
    ]


@pytest.mark.parametrize("directed", [True, False])
def test_the_directed_flag_is_carried_into_the_evidence(directed):
    found = actionable_relations([relation(directed=directed)], DEFAULT)
    assert found[0].evidence["directed"] is directed


def test_custom_relation_strength():
    assert actionable_relations([relation(r=0.45)], RuleThresholds(relation_strength=0.5)) == []
    assert len(actionable_relations([relation(r=0.2)], RuleThresholds(relation_strength=0.1))) == 1


# --------------------------------------------------------------------------- medications


def test_cpic_avoid_gives_a_high_priority_avoid_flag():
    opts = [option(1, "paroxetine", action="avoid", recommendation="Use an alternative.")]
    found = medication_flags(opts, DEFAULT)
    assert len(found) == 1
    rec = found[0]
    assert rec.kind == "medication_avoid"
    assert rec.priority == "high"
    assert rec.evidence == {"drug": "paroxetine", "cpic_action": "avoid"}
    assert rec.text.startswith("Avoid paroxetine")
    assert "Use an alternative." in rec.text


def test_avoid_flag_without_a_recommendation_has_no_trailing_space():
    found = medication_flags([option(1, "paroxetine", action="avoid")], DEFAULT)
    assert found[0].text == "Avoid paroxetine: CPIC guidance for this genotype."


def test_high_side_effect_risk_is_flagged():
    found = medication_flags([option(1, "sertraline", risk=0.62)], DEFAULT)
    assert len(found) == 1
    rec = found[0]
    assert rec.kind == "medication_side_effect_risk"
    assert rec.priority == "medium"
    assert rec.evidence == {"drug": "sertraline", "side_effect_risk": 0.62, "threshold": 0.5}
    assert "62%" in rec.text
    assert "50%" in rec.text


def test_side_effect_risk_at_the_threshold_is_flagged_and_below_is_not():
    assert len(medication_flags([option(1, "a", risk=0.5)], DEFAULT)) == 1
    assert medication_flags([option(1, "a", risk=0.49)], DEFAULT) == []


def test_an_unremarkable_option_gives_no_flag():
    assert medication_flags([option(1, "sertraline", action="reduce", dose=50)], DEFAULT) == []


def test_an_avoided_risky_drug_gets_both_flags_and_flags_follow_rank():
    opts = [
        option(2, "b_drug", risk=0.7),
        option(1, "a_drug", action="avoid", risk=0.9),
    ]
    found = medication_flags(opts, DEFAULT)
    assert [(r.kind, r.evidence["drug"]) for r in found] == [
        ("medication_avoid", "a_drug"),
        ("medication_side_effect_risk", "a_drug"),
        ("medication_side_effect_risk", "b_drug"),
    ]


def test_custom_side_effect_threshold():
    opts = [option(1, "a", risk=0.35)]
    assert medication_flags(opts, DEFAULT) == []
    found = medication_flags(opts, RuleThresholds(high_side_effect_risk=0.3))
    assert [r.kind for r in found] == ["medication_side_effect_risk"]


def test_best_medication_skips_avoided_drugs_and_takes_the_lowest_rank():
    opts = [
        option(3, "citalopram"),
        option(1, "paroxetine", action="avoid"),
        option(2, "sertraline", efficacy=0.71, risk=0.18, action="reduce", dose=50),
    ]
    rec = best_medication(opts)
    assert rec is not None
    assert rec.kind == "best_medication"
    assert rec.priority == "medium"
    assert rec.evidence == {
        "drug": "sertraline",
        "rank": 2,
        "efficacy_score": 0.71,
        "side_effect_risk": 0.18,
        "cpic_action": "reduce",
        "dose_adjustment_percent": 50,
    }
    assert "sertraline" in rec.text
    assert "71%" in rec.text
    assert "18%" in rec.text
    assert "50% of the standard dose" in rec.text
    assert "standard dosing" not in rec.text


@pytest.mark.parametrize("dose", [None, 100, 100.0])
def test_best_medication_without_adjustment_says_standard_dosing(dose):
    rec = best_medication([option(1, "escitalopram", dose=dose)])
    assert rec is not None
    assert "standard dosing" in rec.text
    assert "% of the standard dose" not in rec.text


def test_best_medication_formats_fractional_adjustments():
    rec = best_medication([option(1, "amitriptyline", dose=75.0)])
    assert "75% of the standard dose" in rec.text
    rec = best_medication([option(1, "amitriptyline", dose=62.5)])
    assert "62.5% of the standard dose" in rec.text


def test_best_medication_of_nothing_or_only_avoided_drugs_is_none():
    assert best_medication([]) is None
    assert best_medication([option(1, "a", action="avoid"), option(2, "b", action="avoid")]) is None


# --------------------------------------------------------------------------- integrate


def test_integrate_of_nothing_is_empty():
    assert integrate(None, None, None) == []
    assert integrate([], [], []) == []


def test_integrate_handles_each_missing_part():
    only_forecast = integrate(forecast("phq9", 10.0, 14.0), None, None)
    assert [r.kind for r in only_forecast] == ["forecast_worsening"]
    assert "related_behaviours" not in only_forecast[0].evidence
    assert "best_medication" not in only_forecast[0].evidence

    only_relations = integrate(None, [relation()], None)
    assert [r.kind for r in only_relations] == ["actionable_relation"]

    only_meds = integrate(None, None, [option(1, "sertraline")])
    assert [r.kind for r in only_meds] == ["best_medication"]


def test_a_worsening_symptom_names_its_behaviours_and_the_best_medication():
    recs = integrate(
        forecast("phq9", 10.0, 14.0),
        [relation(symptom="phq9", r=-0.42, lag=1, directed=True)],
        [option(1, "paroxetine", action="avoid"), option(2, "sertraline", dose=50)],
    )
    worse = [r for r in recs if r.kind == "forecast_worsening"]
    assert len(worse) == 1
    ev = worse[0].evidence
    assert ev["symptom"] == "phq9"
    assert ev["best_medication"] == "sertraline"
    assert len(ev["related_behaviours"]) == 1
    lever = ev["related_behaviours"][0]
    assert lever["biometric"] == "sleep_hours"
    assert lever["symptom"] == "phq9"
    assert lever["helps"] is True
    assert lever["directed"] is True
    text = worse[0].text
    assert "sleep" in text
    assert "sertraline" in text
    assert "paroxetine" not in text
    # the original evidence is kept
    assert ev["change"] == pytest.approx(4.0)

    kinds = sorted(r.kind for r in recs)
    assert kinds == [
        "actionable_relation",
        "best_medication",
        "forecast_worsening",
        "medication_avoid",
    ]


def test_a_worsening_symptom_ignores_relations_of_other_symptoms():
    recs = integrate(
        forecast("phq9", 10.0, 14.0),
        [relation(symptom="mood", r=0.5), relation("steps", "gad7", r=-0.5)],
        None,
    )
    worse = next(r for r in recs if r.kind == "forecast_worsening")
    assert "related_behaviours" not in worse.evidence
    assert "led it" not in worse.text


def test_a_worsening_symptom_names_both_sleep_and_steps():
    recs = integrate(
        forecast("mood", 7.0, 5.0),
        [relation("sleep_hours", "mood", r=0.5), relation("steps", "mood", r=0.4)],
        None,
    )
    worse = next(r for r in recs if r.kind == "forecast_worsening")
    assert {b["biometric"] for b in worse.evidence["related_behaviours"]} == {
        "sleep_hours",
        "steps",
    }
    assert "daily steps and sleep" in worse.text


def test_integrate_sorts_high_priority_first():
    recs = integrate(
        forecast("phq9", 10.0, 14.0),
        [relation(symptom="phq9", r=-0.5)],
        [
            option(1, "sertraline", risk=0.8),
            option(2, "paroxetine", action="avoid"),
        ],
    )
    priorities = [r.priority for r in recs]
    assert priorities == sorted(priorities, key={"high": 0, "medium": 1, "low": 2}.__getitem__)
    assert priorities[:2] == ["high", "high"]
    assert {r.kind for r in recs[:2]} == {"forecast_worsening", "medication_avoid"}
    assert all(p == "medium" for p in priorities[2:])
    assert len(recs) == 5


def test_integrate_with_custom_thresholds_changes_the_outcome():
    parts = (
        forecast("phq9", 10.0, 12.0),
        [relation(symptom="phq9", r=-0.25)],
        [option(1, "sertraline", risk=0.4)],
    )
    default = integrate(*parts)
    assert [r.kind for r in default] == ["best_medication"]

    custom = RuleThresholds(
        worsening={"phq9": 2.0, "gad7": 3.0, "mood": 1.0},
        relation_strength=0.2,
        high_side_effect_risk=0.4,
    )
    recs = integrate(*parts, thresholds=custom)
    assert sorted(r.kind for r in recs) == [
        "actionable_relation",
        "best_medication",
        "forecast_worsening",
        "medication_side_effect_risk",
    ]
    worse = recs[0]
    assert worse.kind == "forecast_worsening"
    assert worse.evidence["threshold"] == 2.0
    assert worse.evidence["related_behaviours"][0]["coefficient"] == -0.25


def test_recommendations_serialise_to_plain_dicts():
    rec = Recommendation("best_medication", "medium", "text", {"drug": "x"})
    assert rec.as_dict() == {
        "kind": "best_medication",
        "priority": "medium",
        "text": "text",
        "evidence": {"drug": "x"},
    }
    recs = integrate(forecast("phq9", 10.0, 14.0), None, [option(1, "sertraline")])
    dicts = [r.as_dict() for r in recs]
    assert dicts[0]["kind"] == "forecast_worsening"
    assert dicts[0]["evidence"]["best_medication"] == "sertraline"
