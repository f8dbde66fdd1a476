"""The correlation family's symptom predictors: windows, baselines, held-out metrics, the
BiLSTM with attention, and what the server reports of a prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric import bilstm
from novamind_core.families.biometric.alignment import AlignedCohort, align
from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    MIN_HISTORY_DAYS,
    TARGETS,
    Scaling,
    Windows,
    check_history,
    windows_from,
)
from novamind_core.families.biometric.predictor_baselines import (
    Forecast,
    RidgeForecaster,
    last_value,
    seasonal_naive,
)
from novamind_core.families.biometric.predictor_evaluation import (
    beats_baselines,
    evaluate,
    naive_scales,
    verdict,
)
from novamind_core.families.biometric.predictor_steps import (
    attention_check,
    planted_lag_attention,
)
from novamind_core.families.biometric.signals import KEY, SIGNALS
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

PHQ9, GAD7, MOOD = (SIGNALS.index(s) for s in TARGETS)
SLEEP = SIGNALS.index("sleep_hours")


def _frame(days: int, key: str = "p_a", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({KEY: key, "day": pd.date_range("2025-01-01", periods=days)})
    for name, (mean, sd) in {
        "heart_rate_bpm": (68, 4),
        "hrv_rmssd_ms": (40, 5),
        "sleep_hours": (7, 1),
        "steps": (7000, 900),
        "phq9": (12, 3),
        "gad7": (9, 3),
        "mood": (6, 1),
    }.items():
        frame[name] = np.round(np.clip(rng.normal(mean, sd, days), 0, None), 1)
    frame.loc[frame.index % 7 != 3, ["phq9", "gad7"]] = np.nan
    return frame


@pytest.fixture(scope="module")
def cohort():
    """120 synthetic patients × 200 days, split 84 / 18 / 18 by patient."""
    generated = generate(CohortConfig(patients=120, days=200, seed=21))
    tables = {k: v.rename(columns={"patient_id": KEY}) for k, v in generated.tables.items()}
    aligned = align(tables["symptom_observations"], tables["biometrics"])
    rows = np.arange(len(aligned.keys))
    sides = {"train": rows[:84], "validation": rows[84:102], "test": rows[102:]}
    windows = {name: windows_from(aligned.subset(r)) for name, r in sides.items()}
    return {
        "windows": windows,
        "scaling": Scaling.fit(windows["train"]),
        "scales": naive_scales(aligned.subset(sides["train"])),
    }


@pytest.fixture(scope="module")
def trained(cohort):
    w = cohort["windows"]
    settings = bilstm.BiLstmSettings(max_epochs=4, patience=1, hidden=16, seed=3)
    return bilstm.fit(w["train"], w["validation"], cohort["scaling"], settings)


# -- windows ------------------------------------------------------------------------------
def test_a_window_holds_the_days_before_its_origin_and_the_targets_after_it():
    frame = _frame(40)
    aligned = AlignedCohort.from_frame(frame)
    w = windows_from(aligned, need_target=False)
    first = 0  # origin = day MIN_HISTORY_DAYS - 1: padded on the left
    assert w.origin[first] == np.datetime64("2025-01-01") + MIN_HISTORY_DAYS - 1
    assert np.isnan(w.x[first, : LOOKBACK - MIN_HISTORY_DAYS]).all()
    assert w.x[first, -1, SLEEP] == np.float32(frame["sleep_hours"].iloc[MIN_HISTORY_DAYS - 1])
    o = 30 - (MIN_HISTORY_DAYS - 1)  # the window ending on day 30
    assert w.x[o, -1, MOOD] == np.float32(frame["mood"].iloc[30])
    assert w.x[o, 0, MOOD] == np.float32(frame["mood"].iloc[30 - LOOKBACK + 1])
    for h in range(HORIZON):
        expected = frame[list(TARGETS)].iloc[31 + h].to_numpy(np.float32)
        np.testing.assert_array_equal(w.y[o, h], expected)
    assert len(w) == 40 - MIN_HISTORY_DAYS  # every origin with at least one day ahead
    last = windows_from(aligned, need_target=False, origins="last")
    assert len(last) == 1 and last.origin[0] == np.datetime64("2025-02-09")
    assert np.isnan(last.y).all()


def test_training_windows_need_an_observed_target():
    frame = _frame(60)
    frame.loc[frame.index >= 30, list(TARGETS)] = np.nan
    w = windows_from(AlignedCohort.from_frame(frame))
    assert len(w) and (w.observed.any(axis=(1, 2))).all()
    assert w.origin.max() < np.datetime64("2025-01-30")


def test_inputs_are_standardized_values_with_masks_and_no_nan():
    w = windows_from(AlignedCohort.from_frame(_frame(50)))
    scaling = Scaling.fit(w)
    inputs = w.inputs(scaling)
    assert inputs.shape == (len(w), LOOKBACK, 2 * len(SIGNALS))
    assert np.isfinite(inputs).all()
    present = ~np.isnan(w.x)
    np.testing.assert_array_equal(inputs[..., len(SIGNALS) :], present)
    assert (inputs[..., : len(SIGNALS)][~present] == 0).all()
    again = Scaling.from_dict(scaling.to_dict())
    np.testing.assert_array_equal(again.mean, scaling.mean)


def test_scaling_refuses_a_signal_that_never_varies():
    frame = _frame(50)
    frame["steps"] = 5000.0
    with pytest.raises(ValidationError, match="steps"):
        Scaling.fit(windows_from(AlignedCohort.from_frame(frame)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: x[:-1].__setitem__(Ellipsis, np.nan), "1 day"),
        (lambda x: x[:, :4].__setitem__(Ellipsis, np.nan), "every wearable"),
        (lambda x: x[:, 4:].__setitem__(Ellipsis, np.nan), "no self-report"),
    ],
)
def test_a_history_the_predictor_cannot_use_is_named(change, message):
    x = windows_from(AlignedCohort.from_frame(_frame(40)), origins="last", need_target=False).x[0]
    x = x.copy()
    change(x)
    with pytest.raises(ValidationError, match=message):
        check_history(x, "patient p_a's history")


# -- baselines and metrics ---------------------------------------------------------------------
def _windows(x: np.ndarray, y: np.ndarray) -> Windows:
    n = len(x)
    return Windows(
        np.array([f"p{i}" for i in range(n)], dtype=object),
        np.full(n, np.datetime64("2025-03-01")),
        x.astype(np.float32),
        y.astype(np.float32),
    )


def test_naive_forecasts_carry_the_last_and_the_weekly_value():
    x = np.full((1, LOOKBACK, len(SIGNALS)), np.nan)
    x[0, 20, PHQ9] = 10  # input day 20: 8 days before origin + 1
    x[0, 24, PHQ9] = 14
    x[0, :, MOOD] = np.arange(LOOKBACK)
    w = _windows(x, np.full((1, HORIZON, 3), np.nan))
    fallback = np.array([12.0, 9.0, 6.0])
    last = last_value(w, fallback).median[0]
    assert (last[:, 0] == 14).all() and (last[:, 1] == 9).all() and (last[:, 2] == 27).all()
    seasonal = seasonal_naive(w, fallback).median[0]
    # horizon h targets day 27 + h; seven days before it is input day 20 + h
    assert seasonal[0, 0] == 10  # day 21 has no report: the last one before it (day 20)
    assert seasonal[4, 0] == 14  # day 25 → day 24's report
    np.testing.assert_array_equal(seasonal[:, 2], 20 + np.arange(1, HORIZON + 1))


def test_the_ridge_learns_a_linear_lead_the_naive_forecasts_cannot():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(0, 1, (n, LOOKBACK, len(SIGNALS)))
    y = np.full((n, HORIZON, 3), np.nan)
    y[:, 0, 0] = 3 * x[:, -1, SLEEP] + rng.normal(0, 0.3, n)  # phq9 tomorrow ← sleep today
    y[:, :, 1:] = rng.normal(0, 1, (n, HORIZON, 2))
    y[:, 1:, 0] = rng.normal(0, 1, (n, HORIZON - 1))
    w = _windows(x, y)
    train, validation, test = (
        w.subset(range(2000)),
        w.subset(range(2000, 2500)),
        w.subset(range(2500, n)),
    )
    scaling = Scaling.fit(train)
    forecast = RidgeForecaster(scaling).fit(train, validation).predict(test)
    error = np.abs(forecast.median[:, 0, 0] - test.y[:, 0, 0]).mean()
    naive = np.abs(last_value(test, scaling.mean[[4, 5, 6]]).median[:, 0, 0] - test.y[:, 0, 0])
    assert error < 0.5 < naive.mean()
    assert (forecast.lower <= forecast.median).all() and (forecast.median <= forecast.upper).all()


def test_metrics_count_observed_days_only_and_say_who_beats_whom():
    y = np.full((4, HORIZON, 3), np.nan)
    y[:, 0, :] = 10.0
    w = _windows(np.zeros((4, LOOKBACK, len(SIGNALS))), y)
    scales = np.array([2.0, 2.0, 1.0])
    exact = Forecast(np.full((4, HORIZON, 3), 10.0, np.float32))
    off = Forecast(np.full((4, HORIZON, 3), 12.0, np.float32))
    results = {
        "last_value": evaluate(off, w, scales),
        "seasonal_naive": evaluate(off, w, scales),
        "model": evaluate(exact, w, scales),
    }
    assert results["last_value"]["phq9"]["mae"][0] == 2.0
    assert results["last_value"]["phq9"]["mase"][0] == 1.0
    assert results["last_value"]["mood"]["mase"][0] == 2.0
    assert np.isnan(results["last_value"]["phq9"]["mae"][1])  # nothing observed that day
    assert results["last_value"]["phq9"]["n"][1] == 0
    assert beats_baselines(results, "model") and not beats_baselines(results, "last_value")
    (line,) = verdict(results)
    assert line.startswith("model: mean MASE 0.000; beats last_value, seasonal_naive")


def test_the_mase_scale_is_the_change_between_consecutive_reports():
    frame = _frame(30)
    frame["phq9"] = np.nan
    frame.loc[[0, 7, 14], "phq9"] = [10, 14, 11]
    scales = naive_scales(AlignedCohort.from_frame(frame))
    assert scales[0] == pytest.approx((4 + 3) / 2)


# -- the BiLSTM ----------------------------------------------------------------------------
def test_bilstm_forecasts_are_finite_ordered_and_beat_seasonal_naive(cohort, trained):
    test = cohort["windows"]["test"]
    forecast, _, gate = trained.forward(test)
    assert forecast.median.shape == (len(test), HORIZON, len(TARGETS))
    assert np.isfinite(forecast.median).all()
    assert (forecast.lower <= forecast.median).all() and (forecast.median <= forecast.upper).all()
    results = {
        "bilstm": evaluate(forecast, test, cohort["scales"]),
        "seasonal_naive": evaluate(
            seasonal_naive(test, cohort["scaling"].target_scale()[0]), test, cohort["scales"]
        ),
    }
    for name in TARGETS:
        assert results["bilstm"][name]["mean_mase"] < results["seasonal_naive"][name]["mean_mase"]
    np.testing.assert_allclose(gate.sum(-1), 1, atol=1e-5)


def test_attention_sums_to_one_over_the_days_with_data_only(cohort, trained):
    test = cohort["windows"]["test"]
    _, attention, _ = trained.forward(test)
    check = attention_check(attention)
    assert check["finite"] and check["sums_to_one"]
    no_data = ~(~np.isnan(test.x)).any(axis=2)  # (N, L)
    assert no_data.any()  # the first windows of each patient are padded
    assert (attention.transpose(0, 3, 1, 2)[no_data] == 0).all()


def test_attention_finds_the_planted_leads_more_often_than_chance(cohort, trained):
    leads = planted_lag_attention(
        trained.forward(cohort["windows"]["test"])[1], cohort["windows"]["test"]
    )
    assert {(p["biometric"], p["horizon"]) for p in leads} == {
        ("sleep_hours", 1),
        ("hrv_rmssd_ms", 1),
        ("hrv_rmssd_ms", 2),
    }
    for lead in leads:
        assert lead["mean_weight"] > lead["even_share"], lead


def test_a_day_removed_changes_the_forecast_and_a_window_without_data_is_not_nan(trained):
    w = windows_from(AlignedCohort.from_frame(_frame(60)), need_target=False, origins="last")
    before = trained.predict(w).median
    blank = w.x.copy()
    blank[0, -1, :] = np.nan  # the last day is now missing altogether
    after = trained.predict(Windows(w.keys, w.origin, blank, w.y)).median
    assert not np.array_equal(before, after)
    empty = Windows(w.keys, w.origin, np.full_like(w.x, np.nan), w.y)
    assert np.isfinite(trained.predict(empty).median).all()


def test_a_saved_bilstm_predicts_the_same_and_a_foreign_architecture_is_refused(
    tmp_path, cohort, trained
):
    test = cohort["windows"]["test"].subset(range(50))
    trained.save(tmp_path / "m")
    again = bilstm.BiLstmPredictor.load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(test).median, trained.predict(test).median)
    meta = (
        (tmp_path / "m" / "bilstm.json")
        .read_text()
        .replace('"architecture": 1', '"architecture": 99')
    )
    (tmp_path / "m" / "bilstm.json").write_text(meta)
    with pytest.raises(ValueError, match="retrain"):
        bilstm.BiLstmPredictor.load(tmp_path / "m")


def test_the_pinball_loss_ignores_unobserved_targets():
    q = torch.zeros(2, HORIZON, 3, 3)
    target = torch.full((2, HORIZON, 3), float("nan"))
    assert bilstm.pinball_loss(q, target).item() == 0.0
    target[0, 0, 0] = 1.0
    expected = np.mean([0.1 * 1, 0.5 * 1, 0.9 * 1])
    assert bilstm.pinball_loss(q, target).item() == pytest.approx(expected)


def test_the_review_shows_every_predictor_beside_the_baselines():
    from novamind_core.families.biometric.review import CORRELATION_REVIEW

    y = np.full((4, HORIZON, 3), np.nan)
    y[:, 0, :] = 10.0
    w = _windows(np.zeros((4, LOOKBACK, len(SIGNALS))), y)
    scales = np.array([2.0, 2.0, 1.0])

    def scored(value, interval=False):
        median = np.full((4, HORIZON, 3), value, np.float32)
        bounds = (median - 1, median + 1) if interval else (None, None)
        return evaluate(Forecast(median, *bounds), w, scales)

    test = {
        "last_value": scored(12.0),
        "seasonal_naive": scored(13.0),
        "ridge": scored(11.0, True),
        "bilstm": scored(10.5, True),
    }
    predictors = {
        "selected": "bilstm",
        "test": test,
        "verdict": verdict(test),
        "training": {"bilstm": {"training_seconds": 70.1, "epochs": 5, "peak_rss_mib": 900}},
        "extras": {
            "bilstm": {
                "planted_lags": [
                    {
                        "biometric": "sleep_hours",
                        "symptom": "phq9",
                        "lag_days": 1,
                        "horizon": 1,
                        "mean_weight": 0.086,
                        "even_share": 0.039,
                    }
                ]
            },
            "aligned_ridge": {"retrieval": {"top1": 0.21, "chance_top1": 0.0039}},
        },
    }
    candidate = {"predictors": predictors}
    rows = dict(
        (label, value) for label, value, _ in CORRELATION_REVIEW.summary_rows(candidate, None)
    )
    assert rows["symptom predictor (mean MASE, held-out patients)"] == "bilstm 0.333"
    tables = {t.title.split(" (")[0]: t for t in CORRELATION_REVIEW.tables(candidate, None)}
    accuracy = tables["symptom predictors on held-out patients"]
    assert [row[0] for row in accuracy.rows] == ["bilstm", "ridge", "last_value", "seasonal_naive"]
    assert accuracy.rows[0][-1] == "1.00 / 1.00 / 1.00" and accuracy.rows[2][-1] == "-"
    evidence = tables["explanations and alignment"].rows
    assert evidence[0][2] == "0.086 (even share 0.039)" and "chance 0.004" in evidence[1][2]
    lines = [row[0] for row in tables["verdict"].rows]
    assert [line.split(":")[0] for line in lines] == ["ridge", "bilstm"]
    assert "beats last_value, seasonal_naive, ridge" in lines[1]
