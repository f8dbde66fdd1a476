"""The generator: deterministic, realistic, and its planted truth is recoverable."""

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from novamind_core.domain.datasets import RAW_TABLES
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate
from novamind_core.infrastructure.synthetic.reference_data import (
    allele_frequencies,
    medication_catalog,
)


@pytest.fixture(scope="module")
def cohort():
    return generate(CohortConfig(patients=150, days=120, seed=11))


def test_same_seed_same_data_other_seed_other_data():
    a = generate(CohortConfig(patients=20, days=40, seed=5))
    b = generate(CohortConfig(patients=20, days=40, seed=5))
    c = generate(CohortConfig(patients=20, days=40, seed=6))
    for name in RAW_TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert not a.tables["biometrics"].equals(c.tables["biometrics"])
    assert a.ground_truth == b.ground_truth


def test_every_raw_table_is_produced_with_identifiers(cohort):
    assert set(cohort.tables) == set(RAW_TABLES)
    ids = cohort.tables["patients"]["patient_id"]
    assert ids.str.fullmatch(r"MRN\d{7}").all() and ids.is_unique
    assert cohort.tables["patients"]["name"].str.contains(" ").all()


def test_self_reports_are_irregular_and_missing_at_times(cohort):
    obs = cohort.tables["symptom_observations"]
    gaps = obs.groupby("patient_id")["recorded_at"].diff().dropna().dt.total_seconds() / 86400
    assert gaps.std() > 0.3  # not a regular grid
    days_with_mood = (
        obs.dropna(subset=["mood"])
        .groupby("patient_id")["recorded_at"]
        .apply(lambda s: s.dt.normalize().nunique())
    )
    assert days_with_mood.mean() < 0.9 * 120  # missing days
    assert obs["phq9"].between(0, 27).all() or obs["phq9"].isna().any()


def test_planted_lead_lag_peaks_at_its_lag_on_the_daily_grid(cohort):
    truth = {
        (r["biometric"], r["symptom"]): r["r_by_lag"]
        for r in cohort.ground_truth["daily_grid_correlations"]
    }
    for effect in cohort.ground_truth["lead_lag_effects"]:
        by_lag = np.abs(truth[(effect["biometric"], effect["symptom"])])
        assert int(np.argmax(by_lag)) == effect["lag_days"]
        assert by_lag.max() > 0.1
    assert max(np.abs(truth[("heart_rate_bpm", "phq9")])) < 0.05


def test_planted_sleep_lead_is_recoverable_from_the_raw_tables(cohort):
    """Daily means of what devices and patients recorded still show the lag-1 sleep effect."""
    obs = cohort.tables["symptom_observations"].dropna(subset=["mood"])
    bio = cohort.tables["biometrics"].dropna(subset=["sleep_hours"])
    mood = (
        obs.assign(day=obs["recorded_at"].dt.normalize())
        .groupby(["patient_id", "day"])["mood"]
        .mean()
    )
    sleep = (
        bio.assign(day=bio["recorded_at"].dt.normalize())
        .groupby(["patient_id", "day"])["sleep_hours"]
        .mean()
    )

    def within_r(lag: int) -> float:
        shifted = sleep.rename("sleep").reset_index()
        shifted["day"] += pd.Timedelta(days=lag)
        joined = mood.reset_index().merge(shifted, on=["patient_id", "day"])
        centred = joined.groupby("patient_id")[["mood", "sleep"]].transform(lambda c: c - c.mean())
        return float(centred["mood"].corr(centred["sleep"]))

    r = [within_r(lag) for lag in range(4)]
    assert int(np.argmax(r)) == 1
    assert r[1] > 0.15


def test_phenotype_shares_match_allele_frequencies():
    cohort = generate(CohortConfig(patients=3000, days=28, seed=1))
    freqs = allele_frequencies("CYP2D6")
    no_function = sum(f for a, f in freqs.items() if a in {"*3", "*4", "*5", "*6", "*4x2"})
    expected_pm = no_function**2  # Hardy-Weinberg
    observed_pm = cohort.ground_truth["pharmacogenomics"]["phenotype_shares"]["CYP2D6"]["PM"]
    assert abs(observed_pm - expected_pm) < 0.02


def test_poor_metabolizers_get_more_side_effects():
    cohort = generate(CohortConfig(patients=3000, days=120, seed=2))
    from novamind_core.application.summarize_dataset import phenotype_column
    from novamind_core.domain.pharmacogenomics import Gene

    g = cohort.tables["genotypes"].assign(pm=lambda t: phenotype_column(t, Gene.CYP2D6))
    meds = cohort.tables["medications"]
    cyp2d6_drugs = meds.loc[meds["metabolized_by"].fillna("").str.startswith("CYP2D6"), "drug_name"]
    trials = cohort.tables["treatment_history"].merge(g[["patient_id", "pm"]], on="patient_id")
    trials = trials[trials["drug_name"].isin(cyp2d6_drugs)]
    rate = trials.assign(se=trials["side_effects"].notna()).groupby("pm")["se"].mean()
    assert rate["PM"] > rate["NM"] + 0.15


def test_medication_catalog_has_valid_structures():
    catalog = medication_catalog()
    assert len(catalog) >= 15
    classes = {d["drug_class"] for d in catalog}
    assert {"SSRI", "SNRI", "TCA"} <= classes
    for drug in catalog:
        molecule = Chem.MolFromSmiles(drug["smiles"])
        assert molecule is not None, drug["name"]
        assert CalcMolFormula(molecule) == drug["formula"], drug["name"]


def test_config_rejects_too_short_follow_up():
    with pytest.raises(ValueError, match="28 days"):
        CohortConfig(patients=5, days=10)
