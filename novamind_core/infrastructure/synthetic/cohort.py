"""Generate a synthetic cohort: six raw tables and the ground truth planted in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from novamind_core.domain.pharmacogenomics import Gene
from novamind_core.infrastructure.synthetic import dynamics, sampling, treatments
from novamind_core.infrastructure.synthetic.genetics import draw_genotypes, phenotypes
from novamind_core.infrastructure.synthetic.identities import make_patients
from novamind_core.infrastructure.synthetic.reference_data import load, medication_catalog

DROPOUT_SHARE = 0.15


@dataclass(frozen=True)
class CohortConfig:
    patients: int = 200
    days: int = 180
    seed: int = 7
    end_date: date = date(2025, 12, 31)

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise ValueError("a cohort needs at least one patient")
        if self.days < 28:
            raise ValueError("a cohort needs at least 28 days of follow-up")

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)


@dataclass
class SyntheticCohort:
    tables: dict[str, pd.DataFrame]
    ground_truth: dict[str, Any]


def generate(config: CohortConfig) -> SyntheticCohort:
    """Build every raw table for ``config``; the same config always gives the same data."""
    rng = np.random.default_rng(config.seed)
    n, days, start = config.patients, config.days, config.start_date

    patients = make_patients(rng, n, config.end_date)
    ids = patients["patient_id"].to_numpy()
    genotypes = draw_genotypes(rng, patients["patient_id"])
    phenotype_by_gene = {gene.value: phenotypes(genotypes, gene) for gene in Gene}

    last_day = np.full(n, days - 1)
    drops = rng.random(n) < DROPOUT_SHARE
    last_day[drops] = rng.integers(days // 3, days, drops.sum())
    active = np.arange(days)[None, :] <= last_day[:, None]

    catalog = medication_catalog()
    plan = treatments.plan_treatments(
        rng, patients, phenotype_by_gene, catalog, start, days, last_day
    )
    state = dynamics.simulate(rng, patients["primary_diagnosis"].to_numpy(), plan.reduction)
    symptoms = sampling.symptom_reports(rng, state, ids, active, start)
    worn = sampling.device_wear(rng, active)
    biometrics = sampling.biometric_records(rng, state, ids, worn, start)

    tables = {
        "patients": patients,
        "symptom_observations": symptoms,
        "biometrics": biometrics,
        "genotypes": genotypes,
        "medications": _medications_table(catalog),
        "treatment_history": plan.history,
    }
    return SyntheticCohort(tables, _ground_truth(config, state, phenotype_by_gene, drops))


def _medications_table(catalog: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "drug_name": [d["name"] for d in catalog],
            "drug_class": [d["drug_class"] for d in catalog],
            "smiles": [d["smiles"] for d in catalog],
            "metabolized_by": [";".join(d["metabolized_by"]) or None for d in catalog],
            "min_dose_mg": [float(d["dose_mg"][0]) for d in catalog],
            "max_dose_mg": [float(d["dose_mg"][1]) for d in catalog],
        }
    )


def _ground_truth(config, state, phenotype_by_gene, drops) -> dict[str, Any]:
    """What the generator planted, for later model tests to recover (no identifiers)."""
    shares = {
        gene: {str(code): round(float(np.mean(values == code)), 4) for code in sorted(set(values))}
        for gene, values in phenotype_by_gene.items()
    }
    return {
        "generator": {
            "patients": config.patients,
            "days": config.days,
            "seed": config.seed,
            "start_date": config.start_date.isoformat(),
            "end_date": config.end_date.isoformat(),
        },
        "lead_lag_effects": [
            {
                "biometric": biometric,
                "symptom": symptom,
                "lag_days": lag,
                "effect_points_per_sd": beta,
                "direction": "negative" if beta < 0 else "positive",
            }
            for biometric, symptom, lag, beta in dynamics.LEADS
        ]
        + [
            {
                "biometric": biometric,
                "symptom": "mood",
                "lag_days": lag,
                "effect_points_per_sd": round(beta * dynamics.MOOD_SLOPE, 4),
                "direction": "positive" if beta < 0 else "negative",
                "via": "phq9",
            }
            for biometric, symptom, lag, beta in dynamics.LEADS
            if symptom == "phq9"
        ],
        "no_effect_biometrics": ["heart_rate_bpm"],
        "daily_grid_correlations": dynamics.planted_correlations(state),
        "symptom_dynamics": {
            "trend_ar_coefficient": dynamics.SYMPTOM_TREND_AR,
            "trend_noise_sd": dynamics.SYMPTOM_TREND_NOISE,
            "observation_noise_sd": dynamics.OBSERVATION_NOISE,
            "baseline_means_by_diagnosis": {k: list(v) for k, v in dynamics.BASELINES.items()},
            "mood": {"intercept": dynamics.MOOD_INTERCEPT, "slope_per_phq9_point": -0.3},
            "treatment_reduction_of_baseline": treatments.REDUCTION,
            "treatment_ramp_days": treatments.RAMP_DAYS,
            "dropout_share_planned": DROPOUT_SHARE,
            "dropouts": int(drops.sum()),
        },
        "pharmacogenomics": {
            "base_response_probability": 0.5,
            "base_side_effect_probability": round(
                float(1 / (1 + np.exp(-treatments.BASE_SIDE_EFFECT_LOGIT))), 4
            ),
            "response_logit_shift_by_phenotype": treatments.RESPONSE_LOGIT_SHIFT,
            "side_effect_logit_shift_by_phenotype": treatments.SIDE_EFFECT_LOGIT_SHIFT,
            "phenotype_gene": "the first gene in the drug's metabolized_by list",
            "severe_side_effect_ends_trial_share": treatments.SEVERE_SIDE_EFFECT,
            "remission_given_response": treatments.REMISSION_GIVEN_RESPONSE,
            "phenotype_shares": shares,
        },
        "sources": {
            "allele_frequencies": load("allele_frequencies")["source"],
            "medications": load("medications")["source"],
        },
    }
