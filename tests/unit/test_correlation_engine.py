"""The lead–lag engine against scipy, its autocorrelation correction on a known case,
its FDR under broken links, and the planted relations of the synthetic cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.alignment import AlignedCohort, align
from novamind_core.families.biometric.analysis import correlate
from novamind_core.families.biometric.engine import EngineSettings, bh_qvalues, lead_lag
from novamind_core.families.biometric.signals import KEY, SIGNALS
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

SLEEP, MOOD = SIGNALS.index("sleep_hours"), SIGNALS.index("mood")


def ar1(rng, shape, phi):
    out = np.empty(shape)
    out[..., 0] = rng.standard_normal(shape[:-1])
    noise = rng.standard_normal(shape) * np.sqrt(1 - phi**2)
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + noise[..., t]
    return out


@pytest.fixture(scope="module")
def demo():
    """The demo cohort of `make run` (200 patients × 180 days, seed 7), aligned."""
    cohort = generate(CohortConfig(patients=200, days=180, seed=7))
    tables = {k: v.rename(columns={"patient_id": KEY}) for k, v in cohort.tables.items()}
    return align(tables["symptom_observations"], tables["biometrics"]), cohort.ground_truth


def test_per_patient_r_and_p_match_scipy_with_the_correction_off():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, len(SIGNALS), 60))
    values[rng.random(values.shape) < 0.3] = np.nan
    settings = EngineSettings(max_lag=3, autocorrelation=False)
    tests = lead_lag(values, settings).per_patient
    for p in range(3):
        for lag in range(4):
            x, y = values[p, SLEEP, : 60 - lag], values[p, MOOD, lag:]
            both = ~np.isnan(x) & ~np.isnan(y)
            r, pvalue = stats.pearsonr(x[both], y[both])
            b, s = settings.biometrics.index("sleep_hours"), settings.symptoms.index("mood")
            assert tests.r[p, lag, b, s] == pytest.approx(r, abs=1e-12)
            assert tests.p[p, lag, b, s] == pytest.approx(pvalue, rel=1e-8)
            assert tests.n[p, lag, b, s] == both.sum()


def test_spearman_with_complete_data_is_spearmans_rho():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(1, len(SIGNALS), 50))
    tests = lead_lag(values, EngineSettings(max_lag=0, method="spearman")).per_patient
    rho, _ = stats.spearmanr(values[0, SLEEP], values[0, MOOD])
    assert tests.r[0, 0, 2, 2] == pytest.approx(rho, abs=1e-12)


def test_pooled_is_the_repeated_measures_correlation():
    """Two patients whose levels differ: across patients x and y rise together, within
    each they move opposite. The pooled r is the within-patient one (negative)."""
    rng = np.random.default_rng(2)
    days = 80
    values = np.full((2, len(SIGNALS), days), np.nan)
    for p, level in enumerate((0.0, 10.0)):
        x = rng.normal(size=days)
        values[p, SLEEP] = level + x
        values[p, MOOD] = level - x + rng.normal(0, 0.5, days)
    settings = EngineSettings(max_lag=0, autocorrelation=False)
    pooled = lead_lag(values, settings).pooled
    b, s = 2, 2
    naive = np.corrcoef(values[:, SLEEP].ravel(), values[:, MOOD].ravel())[0, 1]
    assert naive > 0.5
    assert pooled.r[0, b, s] < -0.8
    assert pooled.n_eff[0, b, s] == pytest.approx(2 * days - 2 + 1)  # N − P − 1 df + 2


def test_effective_sample_size_keeps_autocorrelated_nulls_at_nominal_rate():
    """Two independent AR(1) series with φ = 0.9: the naive test rejects far more often
    than 5%, the corrected one does not."""
    rng = np.random.default_rng(3)
    values = ar1(rng, (1500, len(SIGNALS), 120), 0.9)
    only = {"biometrics": ("sleep_hours",), "symptoms": ("mood",), "max_lag": 0}
    naive = lead_lag(values, EngineSettings(autocorrelation=False, **only)).per_patient
    fixed = lead_lag(values, EngineSettings(**only)).per_patient
    naive_rate = np.mean(naive.p < 0.05)
    fixed_rate = np.mean(fixed.p < 0.05)
    assert naive_rate > 0.3
    assert fixed_rate < 0.08
    assert np.nanmedian(fixed.n_eff) < 0.3 * 120


def test_pooled_test_keeps_strongly_autocorrelated_nulls_near_nominal_rate():
    """The pooled (repeated-measures) test over 100 patients × 120 days, both series
    AR(1) with φ = 0.9, 200 times: the naive test rejects about half the time; the
    corrected one — the autocorrelations freed of their mean-centring bias — about 5%."""
    rng = np.random.default_rng(12)
    only = {"biometrics": ("sleep_hours",), "symptoms": ("mood",), "max_lag": 0}
    fixed, naive = [], []
    for _ in range(200):
        values = ar1(rng, (100, len(SIGNALS), 120), 0.9)
        fixed.append(lead_lag(values, EngineSettings(**only)).pooled.p.ravel()[0])
        naive.append(
            lead_lag(values, EngineSettings(autocorrelation=False, **only)).pooled.p.ravel()[0]
        )
    assert np.mean(np.array(naive) < 0.05) > 0.3
    assert np.mean(np.array(fixed) < 0.05) < 0.085


def test_bh_qvalues_match_scipy_and_skip_missing_tests():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.2, 0.001])
    q = bh_qvalues(p)
    expected = stats.false_discovery_control(p[~np.isnan(p)])
    assert np.isnan(q[2])
    np.testing.assert_allclose(q[~np.isnan(p)], expected)


def test_demo_cohort_recovers_every_planted_relation_at_its_lag(demo):
    aligned, truth = demo
    analysis = correlate(aligned, EngineSettings())
    tests = analysis.tests
    for effect in truth["lead_lag_effects"]:
        pair = tests[
            (tests.biometric == effect["biometric"]) & (tests.symptom == effect["symptom"])
        ]
        strongest = pair.loc[pair["coefficient"].abs().idxmax()]
        assert strongest["lag_days"] == effect["lag_days"], effect
        assert strongest["significant"], effect
        assert np.sign(strongest["coefficient"]) == (-1 if effect["direction"] == "negative" else 1)
        assert strongest["ci_low"] <= strongest["coefficient"] <= strongest["ci_high"]
    heart = tests[tests.biometric == "heart_rate_bpm"]
    assert len(heart) == 3 * 8 and not heart["significant"].any()
    edges = analysis.directed.edges
    found = {(e.biometric, e.symptom, e.lag_days) for e in edges.itertuples()}
    for effect in truth["lead_lag_effects"]:
        assert (effect["biometric"], effect["symptom"], effect["lag_days"]) in found
    assert "heart_rate_bpm" not in set(edges.biometric)


def test_broken_links_keep_false_discoveries_at_or_below_the_nominal_rate(demo):
    """Each patient's wearables with another patient's symptoms over the same days: every
    discovery is false. Over 20 pairings, the share of analyses with any discovery (the
    FDR under the complete null) and the rate of p < 0.05 stay at their nominal 5%."""
    aligned, _ = demo
    settings = EngineSettings()
    any_discovery, small_p, patient_fdp = [], [], []
    for shift in range(1, 21):
        values = aligned.values.copy()
        values[:, 4:] = np.roll(values[:, 4:], shift, axis=0)
        result = lead_lag(values, settings)
        valid = result.pooled.valid
        any_discovery.append(bool((result.pooled.q[valid] <= settings.fdr).any()))
        small_p.append(np.mean(result.pooled.p[valid] < 0.05))
        per = result.per_patient
        found = np.where(per.valid, per.q <= settings.fdr, False)
        patient_fdp.append(np.mean(found.reshape(len(values), -1).any(1)))
    assert np.mean(any_discovery) <= 0.05 + 0.05  # 20 pairings: at most 2 with a discovery
    assert np.mean(small_p) <= 0.06
    assert np.mean(patient_fdp) <= 0.05


def test_settings_refuse_what_the_engine_cannot_do():
    for bad, message in (
        ({"max_lag": 29}, "0..28"),
        ({"max_lag": -1}, "0..28"),
        ({"max_lag": 2.5}, "whole number"),
        ({"method": "kendall"}, "pearson, spearman"),
        ({"fdr": 0}, "fdr"),
        ({"biometrics": ("pulse",)}, "unknown biometric 'pulse'"),
        ({"symptoms": ()}, "at least one symptom"),
    ):
        with pytest.raises(ValidationError, match=message):
            EngineSettings(**bad)


def test_bad_series_are_excluded_never_nan_results():
    days = 30
    rng = np.random.default_rng(4)
    frame = []
    for key, kind in (
        ("p_" + "a" * 24, "fine"),
        ("p_" + "b" * 24, "constant"),
        ("p_" + "c" * 24, "no wearables"),
        ("p_" + "d" * 24, "one day"),
        ("p_" + "e" * 24, "no overlap"),
    ):
        for d in range(1 if kind == "one day" else days):
            row = {KEY: key, "day": pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)}
            row.update({s: rng.normal(5, 1) for s in ("phq9", "gad7", "mood")})
            levels = {"heart_rate_bpm": 65, "hrv_rmssd_ms": 40, "sleep_hours": 7, "steps": 6000}
            row.update({b: rng.normal(m, 0.1 * m) for b, m in levels.items()})
            if kind == "constant":
                row["sleep_hours"] = 7.0
            if kind == "no wearables":
                row.update(
                    dict.fromkeys(
                        ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps"), np.nan
                    )
                )
            if kind == "no overlap":
                if d % 2:
                    row.update(dict.fromkeys(("phq9", "gad7", "mood"), np.nan))
                else:
                    row.update(
                        dict.fromkeys(
                            ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps"), np.nan
                        )
                    )
            frame.append(row)
    aligned = AlignedCohort.from_frame(pd.DataFrame(frame))
    analysis = correlate(aligned, EngineSettings(max_lag=0))
    assert not analysis.tests[["coefficient", "p_value", "q_value"]].isna().any().any()
    reasons = {e.reason: e.count for e in analysis.exclusions}
    assert reasons["no wearable data"] == 1
    assert reasons["too few days with both wearable and symptom data"] == 2  # one day, no overlap
    one = correlate(aligned, EngineSettings(max_lag=0), patient="p_" + "b" * 24)
    assert "sleep_hours" not in set(one.tests.biometric)
    assert any(e.reason == "constant series (no variation)" for e in one.exclusions)
    lonely = correlate(aligned, EngineSettings(max_lag=0), patient="p_" + "d" * 24)
    assert lonely.tests.empty and lonely.result().correlation_strength == ()


def test_values_in_the_wrong_unit_are_named():
    records = pd.DataFrame(
        {
            KEY: ["p_" + "a" * 24] * 2,
            "recorded_at": pd.to_datetime(["2025-01-01 07:00", "2025-01-02 07:00"]),
            "sleep_hours": [420.0, 400.0],
        }
    )  # minutes, not hours
    reports = pd.DataFrame(
        {KEY: ["p_" + "a" * 24], "recorded_at": pd.to_datetime(["2025-01-01"]), "mood": [5.0]}
    )
    with pytest.raises(ValidationError, match=r"biometrics.sleep_hours: 2 of 2 .*check the unit"):
        align(reports, records)


def test_alignment_aggregates_each_signal_as_documented():
    key = "p_" + "a" * 24
    records = pd.DataFrame(
        {
            KEY: [key] * 5,
            "recorded_at": pd.to_datetime(
                [
                    "2025-01-01 08:00",
                    "2025-01-01 14:00",
                    "2025-01-01 07:00",
                    "2025-01-01 13:00",
                    "2025-01-01 23:50",
                ]
            ),
            "heart_rate_bpm": [60.0, 80.0, np.nan, np.nan, np.nan],
            "sleep_hours": [np.nan, np.nan, 7.5, 1.0, np.nan],  # the night, then a nap
            "steps": [np.nan, np.nan, np.nan, 3000.0, 9000.0],  # cumulative counts
        }
    )
    reports = pd.DataFrame(
        {
            KEY: [key] * 2,
            "recorded_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-01 20:00"]),
            "mood": [4.0, 6.0],
        }
    )
    aligned = align(reports, records)
    day = aligned.to_frame().iloc[0]
    assert day["heart_rate_bpm"] == 70.0 and day["n_heart_rate_bpm"] == 2
    assert day["sleep_hours"] == 7.5 and day["steps"] == 9000.0
    assert day["mood"] == 5.0 and day["n_mood"] == 2
    assert np.isnan(day["phq9"]) and day["n_phq9"] == 0


@pytest.mark.parametrize("days", [2, 4, 6, 8])
def test_histories_shorter_than_the_longest_lag_are_analysed_not_crashed(days):
    from novamind_core.families.biometric.analysis import analyses_per_patient

    rng = np.random.default_rng(days)
    rows = [
        {
            KEY: "p_" + "a" * 24,
            "day": pd.Timestamp("2025-01-01") + pd.Timedelta(days=d),
            "sleep_hours": rng.normal(7, 1),
            "mood": rng.normal(5, 1),
            "steps": 5000.0 + d,
        }
        for d in range(days)
    ]
    aligned = AlignedCohort.from_frame(pd.DataFrame(rows))
    (analysis,) = analyses_per_patient(aligned, EngineSettings(max_lag=7))
    assert analysis.tests.empty  # too few paired days for any test (min_pairs 10)
    assert analysis.exclusions and analysis.directed.edges.empty
    cohort = correlate(aligned, EngineSettings(max_lag=7))
    assert cohort.tests.empty and cohort.exclusions


def test_daily_rows_twice_for_one_day_are_refused_and_a_stray_date_does_not_size_the_grid():
    key = "p_" + "a" * 24
    rows = pd.DataFrame({KEY: [key, key], "day": ["2025-01-01", "2025-01-01"], "mood": [5.0, 6.0]})
    with pytest.raises(ValidationError, match="more than once"):
        AlignedCohort.from_frame(rows)
    days = pd.date_range("2025-01-01", periods=30).append(pd.DatetimeIndex(["2001-01-01"]))
    stray = pd.DataFrame({KEY: key, "day": days, "mood": 5.0})
    assert AlignedCohort.from_frame(stray).values.shape[-1] == 30


def test_the_null_check_counts_only_computed_tests():
    from novamind_core.families.biometric.steps import null_calibration

    rng = np.random.default_rng(5)
    values = rng.normal(size=(12, len(SIGNALS), 60))
    values[:, SIGNALS.index("phq9")] = np.nan  # never reported: its tests are not computed
    result = null_calibration(values, EngineSettings(max_lag=2))
    assert result["pairings"] == 10 and 0 <= result["rejection_rate"] <= 0.2
