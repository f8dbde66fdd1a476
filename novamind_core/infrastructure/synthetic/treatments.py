"""Treatment trials whose outcomes depend on metabolizer phenotype (planted effect).

A trial's response and side-effect probabilities are logistic in a baseline plus a
shift for the patient's phenotype of the drug's primary metabolizing gene. Responders
stay on the drug; non-responders switch after 6-12 weeks; a severe side effect ends
a trial early. The symptom reduction each trial brings ramps in over four weeks and
fades over two after the drug is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

BASE_RESPONSE_LOGIT = 0.0  # p(response) = 0.50 for a normal metabolizer
BASE_SIDE_EFFECT_LOGIT = -1.1  # p(side effect) = 0.25 for a normal metabolizer
RESPONSE_LOGIT_SHIFT = {"PM": -0.2, "IM": 0.0, "NM": 0.0, "RM": -0.3, "UM": -1.0}
SIDE_EFFECT_LOGIT_SHIFT = {"PM": 1.2, "IM": 0.5, "NM": 0.0, "RM": -0.2, "UM": -0.4}
REMISSION_GIVEN_RESPONSE = 0.55
SEVERE_SIDE_EFFECT = 0.35  # share of side effects that end the trial
REDUCTION = {"none": 0.10, "response": 0.55, "remission": 0.80}
RAMP_DAYS = 28
FADE_DAYS = 14
ASSESSMENT_DAY = 56  # response is judged after 8 weeks on the drug

SIDE_EFFECTS = {
    "SSRI": ["nausea", "insomnia", "sexual_dysfunction", "headache", "diarrhea"],
    "SNRI": ["nausea", "sweating", "hypertension", "insomnia", "dizziness"],
    "TCA": ["dry_mouth", "sedation", "constipation", "orthostatic_hypotension", "weight_gain"],
    "atypical_antidepressant": ["sedation", "weight_gain", "insomnia", "headache"],
    "atypical_antipsychotic": ["akathisia", "weight_gain", "sedation", "dizziness"],
}

PREFERRED_CLASSES = {
    "MDD": ["SSRI", "SNRI", "atypical_antidepressant", "TCA"],
    "GAD": ["SSRI", "SNRI"],
    "BIPOLAR": ["atypical_antipsychotic", "SSRI"],
    "PTSD": ["SSRI", "SNRI"],
    "MIXED": ["SSRI", "SNRI", "TCA", "atypical_antidepressant"],
}


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


@dataclass
class TreatmentPlan:
    """The treatment_history table and the daily symptom reduction it causes."""

    history: pd.DataFrame
    reduction: np.ndarray  # (patients, days) fraction of baseline severity removed


def plan_treatments(
    rng: np.random.Generator,
    patients: pd.DataFrame,
    phenotype_by_gene: dict[str, np.ndarray],
    catalog: list[dict],
    start: date,
    days: int,
    active_days: np.ndarray,
) -> TreatmentPlan:
    """Draw trials for every patient; ``active_days[i]`` is the last day patient i is seen."""
    n = len(patients)
    reduction = np.zeros((n, days))
    by_class: dict[str, list[dict]] = {}
    for drug in catalog:
        by_class.setdefault(drug["drug_class"], []).append(drug)
    rows = []
    trial_counter = 0
    for i in range(n):
        if rng.random() > 0.75:  # a quarter of the cohort is not on medication
            continue
        diagnosis = patients["primary_diagnosis"].iat[i]
        day = int(rng.integers(0, 45))
        for _ in range(3):
            if day >= active_days[i] - 7:
                break
            drug = _pick_drug(rng, by_class, PREFERRED_CLASSES[diagnosis])
            trial_counter += 1
            row, end_day, level = _run_trial(
                rng, drug, phenotype_by_gene, i, day, int(active_days[i]), start
            )
            row["trial_id"] = f"TRX{trial_counter:07d}"
            row["patient_id"] = patients["patient_id"].iat[i]
            rows.append(row)
            _add_reduction(reduction[i], day, end_day, REDUCTION[level])
            if level != "none" and row["end_date"] is None:
                break
            day = end_day + int(rng.integers(5, 15))
    columns = [
        "trial_id",
        "patient_id",
        "drug_name",
        "dose_mg",
        "start_date",
        "end_date",
        "response",
        "remission",
        "side_effects",
        "discontinued_side_effects",
    ]
    history = pd.DataFrame(rows, columns=columns)
    for col in ("start_date", "end_date"):
        history[col] = pd.to_datetime(history[col])
    for col in ("response", "remission"):
        history[col] = history[col].astype("boolean")
    history["dose_mg"] = history["dose_mg"].astype(float)
    history["discontinued_side_effects"] = history["discontinued_side_effects"].astype(bool)
    return TreatmentPlan(history=history, reduction=np.clip(reduction, 0.0, 0.9))


def _pick_drug(rng: np.random.Generator, by_class: dict, classes: list[str]) -> dict:
    drug_class = classes[int(rng.integers(len(classes)))]
    options = by_class[drug_class]
    return options[int(rng.integers(len(options)))]


def _run_trial(rng, drug, phenotype_by_gene, i, day, last_day, start):
    """Decide one trial's outcome; return its row, its last day and its outcome level."""
    genes = drug["metabolized_by"]
    phenotype = phenotype_by_gene[genes[0]][i] if genes else "NM"
    p_side = _sigmoid(BASE_SIDE_EFFECT_LOGIT + SIDE_EFFECT_LOGIT_SHIFT[phenotype])
    p_response = _sigmoid(BASE_RESPONSE_LOGIT + RESPONSE_LOGIT_SHIFT[phenotype])
    effects: list[str] = []
    if rng.random() < p_side:
        options = SIDE_EFFECTS[drug["drug_class"]]
        k = 1 + int(rng.random() < 0.3)
        effects = sorted(rng.choice(options, size=k, replace=False).tolist())
    severe = bool(effects) and rng.random() < SEVERE_SIDE_EFFECT
    responded = (not severe) and rng.random() < p_response
    level = "none"
    if responded:
        level = "remission" if rng.random() < REMISSION_GIVEN_RESPONSE else "response"
    if severe:
        length = int(rng.integers(10, 36))
    elif responded:
        length = 10_000  # stays on the drug
    else:
        length = int(rng.integers(42, 85))
    end_day = min(day + length, last_day)
    ongoing = day + length > last_day
    assessed = (end_day - day) >= ASSESSMENT_DAY or severe
    low, high = drug["dose_mg"]
    dose = float(rng.choice(np.linspace(low, high, 4)))
    row = {
        "drug_name": drug["name"],
        "dose_mg": round(dose, 1),
        "start_date": start + timedelta(days=day),
        "end_date": None if ongoing else start + timedelta(days=end_day),
        "response": (level != "none") if assessed else None,
        "remission": (level == "remission") if assessed else None,
        "side_effects": ";".join(effects) if effects else None,
        "discontinued_side_effects": severe,
    }
    return row, end_day, level


def _add_reduction(series: np.ndarray, first: int, last: int, level: float) -> None:
    """Ramp the reduction in over RAMP_DAYS from ``first``; fade it after ``last``."""
    days = len(series)
    t = np.arange(days)
    on = np.clip((t - first) / RAMP_DAYS, 0.0, 1.0) * level
    on[t < first] = 0.0
    reached = on[min(last, days - 1)]
    after = t > last
    on[after] = reached * np.clip(1.0 - (t[after] - last) / FADE_DAYS, 0.0, 1.0)
    np.maximum(series, on, out=series)
