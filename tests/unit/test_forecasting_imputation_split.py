"""Forecasting data preparation: daily grid (LOCF, no look-ahead), windows, leakage-free split."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from novamind_core.application.deidentify import deidentify
from novamind_core.families.forecasting import training
from novamind_core.families.forecasting.drift import (
    MONITORED_FEATURES,
    last_observed,
    last_observed_on_grid,
)
from novamind_core.families.forecasting.imputation import (
    BIOMETRICS,
    DAYS_SINCE_CAP,
    SYMPTOMS,
    build_daily_grid,
    daily_grid_columns,
)
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.families.forecasting.split import (
    SplitPlan,
    assign_origins,
    held_out,
    plan_split,
)
from novamind_core.families.forecasting.windows import (
    Scaler,
    feature_columns,
    make_windows,
)
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

FILL = {
    "phq9": 11.0,
    "gad7": 9.5,
    "mood": 5.5,
    "heart_rate_bpm": 70.0,
    "hrv_rmssd_ms": 40.0,
    "sleep_hours": 6.5,
    "steps": 8000.0,
}
NAN = np.nan
D0 = pd.Timestamp("2025-01-01")  # a Wednesday


def _at(day: int, hour: int = 12) -> pd.Timestamp:
    return D0 + pd.Timedelta(days=day - 1, hours=hour)


def _obs(rows) -> pd.DataFrame:
    """rows: (key, day, hour, phq9, gad7, mood)."""
    return pd.DataFrame(
        {
            "patient_key": [r[0] for r in rows],
            "recorded_at": pd.to_datetime([_at(r[1], r[2]) for r in rows]),
            "phq9": [r[3] for r in rows],
            "gad7": [r[4] for r in rows],
            "mood": [r[5] for r in rows],
        }
    )


def _bio(rows) -> pd.DataFrame:
    """rows: (key, day, hour, heart_rate_bpm, hrv_rmssd_ms, sleep_hours, steps)."""
    return pd.DataFrame(
        {
            "patient_key": [r[0] for r in rows],
            "recorded_at": pd.to_datetime([_at(r[1], r[2]) for r in rows]),
            "heart_rate_bpm": [r[3] for r in rows],
            "hrv_rmssd_ms": [r[4] for r in rows],
            "sleep_hours": [r[5] for r in rows],
            "steps": [r[6] for r in rows],
        }
    )


OBS_ROWS = [
    # patient a: days 1..6
    ("a", 1, 9, 10.0, NAN, 4.0),
    ("a", 1, 18, NAN, NAN, 6.0),  # same day: the day's value is the mean (5.0)
    ("a", 3, 12, NAN, NAN, 7.0),
    ("a", 6, 12, NAN, 8.0, 2.0),
    # patient b: days 3..4
    ("b", 3, 10, NAN, NAN, 3.0),
    ("b", 4, 10, NAN, NAN, 4.0),
]
BIO_ROWS = [
    ("a", 1, 7, 60.0, NAN, NAN, NAN),
    ("a", 2, 7, NAN, NAN, 7.0, NAN),
    ("a", 6, 22, NAN, NAN, NAN, 1000.0),
]


@pytest.fixture(scope="module")
def hand_grid() -> pd.DataFrame:
    return build_daily_grid(_obs(OBS_ROWS), _bio(BIO_ROWS), FILL)


def _patient(grid: pd.DataFrame, key: str) -> pd.DataFrame:
    return grid[grid["patient_key"] == key].sort_values("day").reset_index(drop=True)


# --------------------------------------------------------------------------- grid


def test_grid_has_one_row_per_patient_day_from_first_to_last_record(hand_grid):
    a, b = _patient(hand_grid, "a"), _patient(hand_grid, "b")
    assert list(a["day"]) == list(pd.date_range(D0, periods=6, freq="D"))
    assert list(b["day"]) == list(pd.date_range(_at(3, 0), periods=2, freq="D"))
    assert not hand_grid.duplicated(["patient_key", "day"]).any()
    assert list(a["day_of_week"]) == [d.dayofweek for d in a["day"]]
    for column in (*SYMPTOMS, *BIOMETRICS):
        assert {column, f"{column}_observed", f"{column}_days_since"} <= set(hand_grid.columns)
        assert hand_grid[column].notna().all()


def test_locf_values_masks_and_days_since_are_exact(hand_grid):
    a = _patient(hand_grid, "a")
    assert a["mood"].tolist() == [5.0, 5.0, 7.0, 7.0, 7.0, 2.0]
    assert a["mood_observed"].tolist() == [1, 0, 1, 0, 0, 1]
    assert a["mood_days_since"].tolist() == [0, 1, 0, 1, 2, 0]

    assert a["phq9"].tolist() == [10.0] * 6
    assert a["phq9_observed"].tolist() == [1, 0, 0, 0, 0, 0]
    assert a["phq9_days_since"].tolist() == [0, 1, 2, 3, 4, 5]

    assert a["heart_rate_bpm"].tolist() == [60.0] * 6
    assert a["heart_rate_bpm_days_since"].tolist() == [0, 1, 2, 3, 4, 5]

    assert a["sleep_hours"].tolist() == [6.5, 7.0, 7.0, 7.0, 7.0, 7.0]
    assert a["sleep_hours_observed"].tolist() == [0, 1, 0, 0, 0, 0]
    assert a["sleep_hours_days_since"].tolist() == [DAYS_SINCE_CAP, 0, 1, 2, 3, 4]


def test_days_before_first_observation_take_the_given_fill_value(hand_grid):
    a, b = _patient(hand_grid, "a"), _patient(hand_grid, "b")
    assert a["gad7"].tolist() == [9.5] * 5 + [8.0]
    assert a["gad7_observed"].tolist() == [0, 0, 0, 0, 0, 1]
    assert a["gad7_days_since"].tolist() == [DAYS_SINCE_CAP] * 5 + [0]
    assert a["steps"].tolist() == [8000.0] * 5 + [1000.0]
    # patient b never reported phq9/gad7 and has no wearable data at all
    for column in ("phq9", "gad7", *BIOMETRICS):
        assert b[column].tolist() == [FILL[column]] * 2, column
        assert b[f"{column}_observed"].tolist() == [0, 0]
        assert b[f"{column}_days_since"].tolist() == [DAYS_SINCE_CAP] * 2
    assert b["mood"].tolist() == [3.0, 4.0]


def test_fill_values_are_not_taken_from_the_patients_own_future():
    """Patient b's first gad7 comes late; earlier days must not see it."""
    obs = _obs([("b", 1, 9, NAN, NAN, 5.0), ("b", 4, 9, NAN, 20.0, 5.0)])
    grid = build_daily_grid(obs, _bio([]), FILL)
    assert _patient(grid, "b")["gad7"].tolist() == [9.5, 9.5, 9.5, 20.0]


def test_days_since_is_capped():
    obs = _obs([("c", 1, 9, NAN, NAN, 5.0), ("c", 45, 9, NAN, NAN, 6.0)])
    c = _patient(build_daily_grid(obs, _bio([]), FILL), "c")
    assert len(c) == 45
    since = c["mood_days_since"].to_numpy()
    assert since[:31].tolist() == list(range(31))
    assert (since[31:44] == DAYS_SINCE_CAP).all() and since[44] == 0
    assert since.max() == DAYS_SINCE_CAP
    assert c["mood"].iloc[:44].eq(5.0).all() and c["mood"].iloc[44] == 6.0


def _rows_up_to(grid: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    part = grid[grid["day"] <= day]
    return part.sort_values(["patient_key", "day"]).reset_index(drop=True)


@pytest.mark.parametrize("cut_day", [2, 3, 4, 5])
def test_no_look_ahead_later_observations_do_not_change_earlier_days(hand_grid, cut_day):
    cut = D0 + pd.Timedelta(days=cut_day - 1)
    later_obs = [
        ("a", cut_day + 1, 8, 25.0, 1.0, 0.0),  # new values for every symptom
        ("a", 6, 13, 27.0, 21.0, 10.0),  # and a second report on an existing late day
        ("b", cut_day + 1, 8, 3.0, 3.0, 9.0),
        ("z", cut_day + 1, 8, 1.0, 1.0, 1.0),  # a new patient entirely after the cut
    ]
    later_bio = [
        ("a", cut_day + 1, 5, 150.0, 90.0, 12.0, 30000.0),
        ("b", 8, 5, 50.0, 20.0, 4.0, 100.0),  # extends b's range
    ]
    changed = build_daily_grid(_obs(OBS_ROWS + later_obs), _bio(BIO_ROWS + later_bio), FILL)
    before, after = _rows_up_to(hand_grid, cut), _rows_up_to(changed, cut)
    # every patient-day that existed up to the cut is unchanged; the only new rows up to the
    # cut extend a patient's range (b's days after its old last record) with LOCF values
    pairs = before.set_index(["patient_key", "day"]).index
    same = after[after.set_index(["patient_key", "day"]).index.isin(pairs)]
    pd.testing.assert_frame_equal(before, same.reset_index(drop=True))
    extra = after[~after.set_index(["patient_key", "day"]).index.isin(pairs)]
    assert set(extra["patient_key"]) <= {"b"}
    assert (extra["mood"] == 4.0).all() and (extra["mood_observed"] == 0).all()
    # the later data did change something (the comparison is not vacuous)
    assert not _rows_up_to(hand_grid, D0 + pd.Timedelta(days=7)).equals(
        _rows_up_to(changed, D0 + pd.Timedelta(days=7))
    )


# --------------------------------------------------------------------------- realistic data


@pytest.fixture(scope="module")
def tables():
    cohort = generate(CohortConfig(patients=30, days=150, seed=1))
    return deidentify(cohort.tables, HmacPseudonymizer(b"k" * 32), datetime.date(2025, 12, 31))


@pytest.fixture(scope="module")
def spec():
    return ForecastSpec()


@pytest.fixture(scope="module")
def imputed(tables, spec):
    return training.impute(tables["symptom_observations"], tables["biometrics"], spec)


@pytest.fixture(scope="module")
def plan(imputed, spec):
    return training.split(imputed[0], spec)


@pytest.fixture(scope="module")
def prepared(imputed, plan, spec):
    return training.prepare(imputed[0], plan, spec)


def test_no_look_ahead_on_realistic_data_truncated_at_a_day(tables, imputed):
    obs, bio = tables["symptom_observations"], tables["biometrics"]
    _, fill, _ = imputed
    full = build_daily_grid(obs, bio, fill)
    for cut in (pd.Timestamp("2025-09-15"), pd.Timestamp("2025-11-01")):
        end = cut + pd.Timedelta(days=1)
        short = build_daily_grid(obs[obs["recorded_at"] < end], bio[bio["recorded_at"] < end], fill)
        assert short["day"].max() == cut
        merged = short.merge(
            full, on=["patient_key", "day"], how="left", suffixes=("", "_full"), indicator=True
        )
        assert (merged["_merge"] == "both").all()
        for column in short.columns.drop(["patient_key", "day"]):
            np.testing.assert_array_equal(
                merged[column].to_numpy(), merged[f"{column}_full"].to_numpy(), err_msg=column
            )


def _grid_one_patient_at_a_time(observations, biometrics, fill_values):
    """The method written out per patient and per column (the test's oracle)."""
    from novamind_core.families.forecasting.imputation import daily_means

    daily = daily_means(observations, SYMPTOMS).join(
        daily_means(biometrics, BIOMETRICS), how="outer"
    )
    frames = []
    for key, part in daily.groupby(level=0, sort=True):
        part = part.droplevel(0)
        part = part.reindex(pd.date_range(part.index.min(), part.index.max(), name="day"))
        out = {}
        for column in part.columns:
            values = part[column]
            observed = values.notna()
            run = (~observed).astype(int).groupby(observed.cumsum()).cumsum()
            seen = observed.cumsum() > 0
            out[column] = values.ffill().fillna(fill_values.get(column, 0.0))
            out[f"{column}_observed"] = observed.astype(np.int8)
            out[f"{column}_days_since"] = (
                np.where(seen, run, DAYS_SINCE_CAP).clip(0, DAYS_SINCE_CAP).astype(np.int16)
            )
        frames.append(pd.DataFrame(out, index=part.index).assign(patient_key=key))
    grid = pd.concat(frames).reset_index()
    grid["day_of_week"] = grid["day"].dt.dayofweek
    first = ["patient_key", "day", "day_of_week"]
    return grid[first + [c for c in grid.columns if c not in first]]


def test_the_vectorized_grid_equals_filling_each_patient_on_its_own(tables, imputed):
    obs, bio = tables["symptom_observations"], tables["biometrics"]
    fill = {**imputed[1], "steps": 1234.0}
    pd.testing.assert_frame_equal(
        build_daily_grid(obs, bio, fill), _grid_one_patient_at_a_time(obs, bio, fill)
    )


def test_impute_takes_fill_values_from_days_before_the_validation_window_only(tables, spec):
    obs, bio = tables["symptom_observations"].copy(), tables["biometrics"].copy()
    _, fill, _ = training.impute(obs, bio, spec)
    last = obs["recorded_at"].max().normalize()
    cutoff = training.validation_cutoff(last, spec)
    late_obs, late_bio = obs["recorded_at"] >= cutoff, bio["recorded_at"] >= cutoff
    assert late_obs.any() and late_bio.any()
    obs.loc[late_obs, ["phq9", "gad7", "mood"]] = obs.loc[late_obs, ["phq9", "gad7", "mood"]] * 0
    bio.loc[late_bio, "steps"] = 1e6
    _, fill_changed_late, _ = training.impute(obs, bio, spec)
    assert fill_changed_late == fill
    early = obs["recorded_at"] < cutoff
    obs.loc[early, "mood"] = 10.0
    _, fill_changed_early, _ = training.impute(obs, bio, spec)
    assert fill_changed_early["mood"] == 10.0


def test_impute_rejects_a_target_that_is_missing_for_every_patient(tables):
    obs = tables["symptom_observations"].copy()
    obs["gad7"] = np.nan
    with pytest.raises(ValueError, match=r"gad7.*missing"):
        training.impute(obs, tables["biometrics"], ForecastSpec(target="gad7"))


def test_impute_excludes_patients_with_fewer_than_two_target_reports(tables, spec, imputed):
    obs, bio = tables["symptom_observations"], tables["biometrics"]
    day = obs["recorded_at"].min() + pd.Timedelta(days=5)
    extra = pd.DataFrame(
        {
            "patient_key": ["p_one_report", "p_one_report", "p_no_mood", "p_no_mood"],
            "recorded_at": [day, day + pd.Timedelta(days=3), day, day + pd.Timedelta(days=1)],
            "phq9": [10.0, 12.0, 10.0, 11.0],
            "gad7": [NAN, NAN, 5.0, 6.0],
            "mood": [4.0, NAN, NAN, NAN],
        }
    )
    grid, _, stats = training.impute(pd.concat([obs, extra], ignore_index=True), bio, spec)
    assert stats["patients_excluded_too_few_reports"] == 2
    assert not grid["patient_key"].isin(["p_one_report", "p_no_mood"]).any()
    assert stats["patients"] == imputed[2]["patients"] == grid["patient_key"].nunique()
    assert stats["patient_days"] == len(grid) == len(imputed[0])


def test_impute_excludes_patients_with_wearable_data_but_no_reports(tables, spec):
    obs, bio = tables["symptom_observations"], tables["biometrics"]
    day = bio["recorded_at"].min() + pd.Timedelta(days=5)
    extra = pd.DataFrame(
        {
            "patient_key": ["p_wearable_only"] * 3,
            "recorded_at": [day + pd.Timedelta(days=i) for i in range(3)],
            "record_type": bio["record_type"].iloc[0],
            "heart_rate_bpm": [60.0, 61.0, 62.0],
            "hrv_rmssd_ms": [40.0, 41.0, 42.0],
            "sleep_hours": [7.0, 7.5, 8.0],
            "steps": [5000.0, 6000.0, 7000.0],
        }
    )
    grid, _, stats = training.impute(obs, pd.concat([bio, extra], ignore_index=True), spec)
    assert "p_wearable_only" not in set(grid["patient_key"])
    assert stats["patients_excluded_too_few_reports"] == 1


# --------------------------------------------------------------------------- windows


def test_feature_columns_put_the_target_first_then_other_symptoms_then_wearables():
    columns = feature_columns("gad7")
    assert columns[:3] == ["gad7", "gad7_observed", "gad7_days_since"]
    assert columns[3::3][:2] == ["phq9", "mood"]
    assert columns[-2:] == ["dow_sin", "dow_cos"]
    assert len(columns) == 3 * (len(SYMPTOMS) + len(BIOMETRICS)) + 2
    assert len(set(columns)) == len(columns)


def test_scaler_standardizes_and_treats_constant_columns_as_unit_spread():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": [4.0, 4.0, 4.0]})
    scaler = Scaler.fit(frame, ["x", "c"])
    out = scaler.transform(frame, ["x", "c"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], [-1.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], [0.0, 0.0, 0.0])
    assert scaler.std["c"] == 1.0


def _ramp_grid(days: int = 20, keys=("a", "b")) -> pd.DataFrame:
    obs_rows = [(k, d, 12, NAN, NAN, float(d)) for k in keys for d in range(1, days + 1)]
    # leave days 5 and 6 of patient a unreported: LOCF keeps 4.0
    obs_rows = [r for r in obs_rows if not (r[0] == "a" and r[1] in (5, 6))]
    return build_daily_grid(_obs(obs_rows), _bio([]), FILL)


def test_make_windows_aligns_history_target_and_weekdays_with_the_origin():
    grid = _ramp_grid()
    scaler = Scaler.fit(grid.assign(dow_sin=0.0, dow_cos=1.0), feature_columns("mood"))
    w = make_windows(grid, "mood", scaler, context_days=5, horizon=3)
    # per patient 20 days: origins at day indices 4..16 → 13 windows each
    assert len(w) == 26
    assert w.context.shape == (26, 5, len(feature_columns("mood")))
    a = w.subset(w.keys == "a")
    origins = pd.DatetimeIndex(a.origin)
    assert origins[0] == D0 + pd.Timedelta(days=4) and origins[-1] == D0 + pd.Timedelta(days=16)
    day_number = (origins - D0).days + 1  # the ramp's value on its own day (when observed)
    expected_last = np.where(np.isin(day_number, [5, 6]), 4.0, day_number)
    np.testing.assert_array_equal(a.history[:, -1], expected_last)
    np.testing.assert_array_equal(a.target[:, -1], day_number + 3)
    np.testing.assert_array_equal(a.history_observed[0], [1, 1, 1, 1, 0])
    expected_dow = (origins.dayofweek.to_numpy()[:, None] + np.arange(1, 4)) % 7
    np.testing.assert_array_equal(a.future_dow, expected_dow)
    # the scaled context's first feature is the standardized target
    mean, std = scaler.mean["mood"], scaler.std["mood"]
    np.testing.assert_allclose(a.context[:, :, 0] * std + mean, a.history, rtol=1e-5)


def test_make_windows_stride_is_anchored_at_the_latest_origin():
    grid = _ramp_grid()
    scaler = Scaler.fit(grid.assign(dow_sin=0.0, dow_cos=1.0), feature_columns("mood"))
    w = make_windows(grid, "mood", scaler, context_days=5, horizon=3, stride=4)
    a = pd.DatetimeIndex(w.subset(w.keys == "a").origin)
    assert list((a - D0).days) == [4, 8, 12, 16]


def test_make_windows_without_future_forecasts_after_the_last_day():
    grid = _ramp_grid(days=8)
    scaler = Scaler.fit(grid.assign(dow_sin=0.0, dow_cos=1.0), feature_columns("mood"))
    w = make_windows(grid, "mood", scaler, 5, 3, stride=10**9, require_future=False)
    assert len(w) == 2
    assert (pd.DatetimeIndex(w.origin) == D0 + pd.Timedelta(days=7)).all()
    assert np.isnan(w.target).all() and (w.target_observed == 0).all()
    last_dow = (D0 + pd.Timedelta(days=7)).dayofweek
    np.testing.assert_array_equal(w.future_dow[0], (last_dow + np.arange(1, 4)) % 7)
    with pytest.raises(ValueError, match="consecutive days"):
        make_windows(grid, "mood", scaler, 7, 3)


# --------------------------------------------------------------------------- split


def test_plan_split_places_the_cutoffs_from_the_last_day(imputed, plan, spec):
    last = imputed[0]["day"].max()
    assert plan.test_start == last - pd.Timedelta(days=spec.test_days - 1)
    assert plan.validation_start == plan.test_start - pd.Timedelta(days=spec.validation_days)
    keys = sorted(imputed[0]["patient_key"].unique())
    assert plan.held_out_patients == held_out(keys, spec.held_out_share, spec.seed)
    assert plan.held_out_patients <= set(keys)


def test_windows_are_labelled_without_leakage(prepared, plan, spec):
    w = prepared.windows
    assert len(w["train"]) and len(w["validation"]) and len(w["test"]) and len(w["heldout"])
    horizon = pd.Timedelta(days=spec.horizon)
    one = pd.Timedelta(days=1)

    train = pd.DatetimeIndex(w["train"].origin)
    assert (train + horizon < plan.validation_start).all()

    val = pd.DatetimeIndex(w["validation"].origin)
    assert (val + one >= plan.validation_start).all()
    assert (val + horizon < plan.test_start).all()

    for name in ("test", "heldout"):
        assert (pd.DatetimeIndex(w[name].origin) + one >= plan.test_start).all()

    held = plan.held_out_patients
    for name in ("train", "validation", "test"):
        assert not set(w[name].keys) & held, name
    assert set(w["heldout"].keys) <= held


def test_scaler_is_fitted_on_training_rows_only(imputed, plan, prepared):
    grid = imputed[0]
    rows = grid[~grid["patient_key"].isin(plan.held_out_patients)]
    rows = rows[rows["day"] < plan.validation_start]
    for column in ("mood", "phq9", "steps"):
        assert prepared.scaler.mean[column] == pytest.approx(rows[column].mean())
        assert prepared.scaler.std[column] == pytest.approx(rows[column].std())
    assert prepared.scaler.mean["mood"] != pytest.approx(grid["mood"].mean(), abs=1e-9)


def test_assign_origins_boundaries():
    v, t = pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01")
    plan = SplitPlan(v, t, frozenset({"h"}))
    horizon = 7
    d = pd.Timedelta
    cases = [
        ("p", v - d(days=horizon + 1), "train"),  # last target = v - 1
        ("p", v - d(days=horizon), "none"),  # last target = v: straddles the cut
        ("p", v - d(days=1), "validation"),  # first target = v
        ("p", t - d(days=horizon + 1), "validation"),  # last target = t - 1
        ("p", t - d(days=horizon), "none"),  # straddles the test cut
        ("p", t - d(days=1), "test"),
        ("p", t + d(days=20), "test"),
        ("h", v - d(days=30), "none"),  # held-out patient never trains
        ("h", v, "none"),  # nor validates
        ("h", t - d(days=1), "heldout"),
    ]
    origins = pd.DataFrame({"patient_key": [c[0] for c in cases], "day": [c[1] for c in cases]})
    labels = assign_origins(origins, horizon, plan)
    assert labels.tolist() == [c[2] for c in cases]


def test_held_out_is_seeded_stable_and_gives_the_requested_share():
    keys = [f"p_{i:04d}" for i in range(100)]
    first = held_out(keys, 0.2, seed=7)
    assert len(first) == 20 and first <= set(keys)
    assert held_out(list(reversed(keys)), 0.2, seed=7) == first
    assert held_out(keys, 0.2, seed=7) == first
    assert held_out(keys, 0.2, seed=8) != first
    assert len(held_out(keys, 0.15, seed=7)) == 15
    assert held_out(keys, 0.0, seed=7) == frozenset()
    assert len(held_out(keys[:3], 0.01, seed=7)) == 1  # a positive share keeps one patient


def test_plan_split_on_a_hand_grid():
    grid = pd.DataFrame(
        {
            "patient_key": ["a"] * 10,
            "day": pd.date_range("2025-01-01", periods=10, freq="D"),
        }
    )
    plan = plan_split(grid, validation_days=3, test_days=2, held_out_share=0.0, seed=1)
    assert plan.test_start == pd.Timestamp("2025-01-09")
    assert plan.validation_start == pd.Timestamp("2025-01-06")
    assert plan.held_out_patients == frozenset()
    assert plan.to_dict()["test_start"].startswith("2025-01-09")


# --------------------------------------------------------------------------- spec


def test_spec_rejects_an_unknown_target():
    with pytest.raises(ValueError, match="target"):
        ForecastSpec(target="bdi")


def test_spec_rejects_a_horizon_longer_than_the_test_or_validation_window():
    with pytest.raises(ValueError, match="horizon"):
        ForecastSpec(horizon=36, test_days=35)
    with pytest.raises(ValueError, match="horizon"):
        ForecastSpec(horizon=20, validation_days=10, test_days=35)
    with pytest.raises(ValueError, match="horizon"):
        ForecastSpec(horizon=0)
    assert ForecastSpec(horizon=35, test_days=35).horizon == 35


def test_spec_for_run_widens_windows_for_long_horizons():
    short = ForecastSpec.for_run("phq9", 7, seed=3)
    assert (short.validation_days, short.test_days) == (56, 35)
    long = ForecastSpec.for_run("phq9", 60, seed=3)
    assert (long.validation_days, long.test_days) == (120, 60)
    assert long.target == "phq9" and long.seed == 3
    assert ForecastSpec.from_dict(long.to_dict()) == long
    assert long.score_range == (0.0, 27.0)


def _daily_histories(seed: int, patients: int = 6) -> list[dict[str, np.ndarray]]:
    """Daily histories with gaps, missing values, a variable never sent and a patient whose
    first days lack every variable."""
    rng = np.random.default_rng(seed)
    histories = []
    for p in range(patients):
        span = int(rng.integers(5, 45))
        kept = np.sort(
            rng.choice(span, size=max(2, int(span * rng.uniform(0.4, 1))), replace=False)
        )
        day = np.datetime64("2025-01-01") + int(rng.integers(0, 60)) + kept.astype(np.int64)
        history = {"day": day.astype("datetime64[D]")}
        for column, scale in zip(
            (*SYMPTOMS, *BIOMETRICS), (27, 21, 10, 100, 80, 10, 9000), strict=True
        ):
            if column == "hrv_rmssd_ms" and p % 2:
                continue  # never sent
            values = rng.uniform(0, scale, len(kept)).round(1)
            values[rng.random(len(kept)) < 0.35] = np.nan
            if p == 0:
                values[:3] = np.nan
            history[column] = values
        histories.append(history)
    return histories


def _as_frames(histories):
    rows = pd.concat(
        [pd.DataFrame(h).assign(patient_key=f"k{i:02d}") for i, h in enumerate(histories)]
    )
    rows["recorded_at"] = pd.to_datetime(rows.pop("day"))
    for column in (*SYMPTOMS, *BIOMETRICS):
        if column not in rows:
            rows[column] = np.nan
    return rows[["patient_key", "recorded_at", *SYMPTOMS]], rows[
        ["patient_key", "recorded_at", *BIOMETRICS]
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_columns_of_daily_histories_equal_the_pandas_grid(seed):
    # the server builds the grid of a micro-batch in numpy; it must be training's grid
    histories = _daily_histories(seed)
    columns = daily_grid_columns(histories, FILL)
    expected = build_daily_grid(*_as_frames(histories), FILL)
    assert list(columns) == list(expected.columns)
    np.testing.assert_array_equal(
        columns["patient_key"], expected["patient_key"].str[1:].astype(int)
    )
    np.testing.assert_array_equal(
        columns["day"], expected["day"].to_numpy().astype("datetime64[D]")
    )
    for name in list(expected.columns)[2:]:
        np.testing.assert_array_equal(columns[name], expected[name].to_numpy(), err_msg=name)
        assert columns[name].dtype == expected[name].to_numpy().dtype or name == "day_of_week"


@pytest.mark.parametrize("seed", [0, 3])
def test_last_observed_on_the_grid_equals_last_observed_of_the_history(seed):
    histories = _daily_histories(seed, patients=8)
    rows = pd.concat(
        [pd.DataFrame(h).assign(patient_key=f"k{i:02d}") for i, h in enumerate(histories)]
    )
    for context_days in (7, 28):
        expected = last_observed(rows, context_days)
        got = last_observed_on_grid(daily_grid_columns(histories, FILL), context_days)
        for name in MONITORED_FEATURES:
            np.testing.assert_array_equal(got[name], expected[name].to_numpy(), err_msg=name)
        assert np.isnan(got["hrv_rmssd_ms"][1::2]).all()  # never sent: missing, not filled


def test_grid_columns_must_be_in_patient_and_day_order_for_windows():
    columns = daily_grid_columns(_daily_histories(0, patients=2), FILL)
    shuffled = {k: v[::-1] for k, v in columns.items()}
    with pytest.raises(ValueError, match="patient and day order"):
        make_windows(shuffled, "mood", Scaler(), 3, 2)
