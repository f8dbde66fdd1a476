"""Drift monitoring on fakes: the check_drift use case, the policy, features, alerts."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from novamind_core.application.monitor_drift import DriftReport, check_drift
from novamind_core.domain.drift import (
    PREDICTION,
    ColumnDrift,
    DriftPolicy,
    DriftResult,
    DriftStatus,
)
from novamind_core.domain.errors import ConfigurationError, NotFoundError, ValidationError
from novamind_core.domain.model_registry import CHAMPION, ModelVersion
from novamind_core.families.forecasting.drift import (
    MONITORED_FEATURES,
    features_on_grid,
    last_observed,
)
from novamind_core.families.forecasting.imputation import (
    BIOMETRICS,
    DAYS_SINCE_CAP,
    KEY,
    SYMPTOMS,
    build_daily_grid,
)
from novamind_core.infrastructure.monitoring.alerts import LogAlert, alert_payload
from novamind_core.infrastructure.monitoring.drift_policy import DEFAULT_POLICY, load_policy
from tests.support.fakes import FakeReferences, FakeRegistry

MODEL = "symptom-forecaster"
FEATURES = ("phq9", "heart_rate_bpm", "steps")
MEANS = {"phq9": 10.0, "heart_rate_bpm": 70.0, "steps": 8000.0, PREDICTION: 5.0}
STDS = {"phq9": 4.0, "heart_rate_bpm": 8.0, "steps": 2500.0, PREDICTION: 1.5}
NAN = np.nan

# --------------------------------------------------------------------------- fakes


class MeanShiftDetector:
    """Score: |mean(current) - mean(reference)| / std(reference), over non-missing values."""

    def __init__(self):
        self.calls: list[dict] = []

    def compare(self, reference, current, columns, policy):
        self.calls.append(
            {
                "columns": list(columns),
                "reference_columns": list(reference.columns),
                "current_columns": list(current.columns),
            }
        )
        scores = {}
        for c in columns:
            ref, cur = reference[c].dropna(), current[c].dropna()
            scores[c] = float(abs(cur.mean() - ref.mean()) / ref.std())
        return DriftReport(scores=scores, html="<html/>", json=json.dumps(scores))


class NaNDetector:
    """A detector that could not compute a score (e.g. a degenerate distribution)."""

    def compare(self, reference, current, columns, policy):
        return DriftReport(scores={c: float("nan") for c in columns}, html="", json="{}")


class RecordingRecorder:
    def __init__(self):
        self.records: list[tuple[DriftResult, DriftReport | None]] = []

    def record(self, result, report):
        self.records.append((result, report))


class RecordingAlert:
    def __init__(self):
        self.sent: list[DriftResult] = []

    def send(self, result):
        self.sent.append(result)


class BrokenAlert:
    def __init__(self):
        self.attempts = 0

    def send(self, result):
        self.attempts += 1
        raise RuntimeError("webhook answered 503")


# --------------------------------------------------------------------------- data


def _frame(rows: int, seed: int, shift: dict[str, float] | None = None, columns=None):
    """Normal values per column; ``shift`` moves a column by that many reference stds."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    columns = columns or (*FEATURES, PREDICTION)
    return pd.DataFrame(
        {c: rng.normal(MEANS[c] + shift.get(c, 0.0) * STDS[c], STDS[c], rows) for c in columns}
    )


def _policy(**kwargs) -> DriftPolicy:
    return DriftPolicy(features=FEATURES, **{"min_samples": 30, **kwargs})


class Setup:
    """The fakes of one check, and a ``run`` that calls check_drift with them."""

    def __init__(self, current: pd.DataFrame, champion: str | None = "3", reference=None):
        self.registry = FakeRegistry.with_champion(champion)
        ref = _frame(400, seed=1) if reference is None else reference
        self.references = FakeReferences({(MODEL, "3"): ref})
        self.detector = MeanShiftDetector()
        self.recorder = RecordingRecorder()
        self.alerts = [RecordingAlert()]
        self.current = current
        self.asked_for: list[ModelVersion] = []

    def current_for(self, version: ModelVersion) -> pd.DataFrame:
        self.asked_for.append(version)
        return self.current

    def run(self, policy: DriftPolicy | None = None, detector=None, alerts=None):
        return check_drift(
            MODEL,
            self.registry,
            self.references,
            detector or self.detector,
            self.current_for,
            policy or _policy(),
            recorder=self.recorder,
            alerts=self.alerts if alerts is None else alerts,
            source="payload log",
        )

    @property
    def sent(self) -> list[DriftResult]:
        return [r for a in self.alerts if isinstance(a, RecordingAlert) for r in a.sent]


def _column(result: DriftResult, name: str) -> ColumnDrift:
    return next(c for c in result.columns if c.column == name)


# --------------------------------------------------------------------------- check_drift


def test_fake_detector_scores_a_shift_in_reference_standard_deviations():
    ref, cur = _frame(400, seed=1), _frame(400, seed=2, shift={"steps": 2.0})
    report = MeanShiftDetector().compare(ref, cur, ["phq9", "steps"], _policy())
    assert report.scores["phq9"] < 0.3
    assert report.scores["steps"] == pytest.approx(2.0, abs=0.3)


def test_no_champion_is_not_found_and_names_the_model():
    setup = Setup(_frame(100, seed=2), champion=None)
    with pytest.raises(NotFoundError, match=MODEL):
        setup.run()
    assert setup.references.asked == [] and setup.recorder.records == []


def test_missing_reference_propagates_not_found():
    setup = Setup(_frame(100, seed=2))
    setup.references.frames.clear()
    with pytest.raises(NotFoundError, match="no drift reference"):
        setup.run()
    assert setup.references.asked == [(MODEL, "3")]
    assert setup.recorder.records == [] and setup.sent == []


def test_the_current_data_is_asked_for_the_champion_version():
    setup = Setup(_frame(100, seed=2))
    setup.registry.set_alias(MODEL, "challenger", "4")
    result, _ = setup.run()
    assert [v.version for v in setup.asked_for] == ["3"]
    assert CHAMPION in setup.asked_for[0].aliases
    assert (result.model, result.version, result.method) == (MODEL, "3", "wasserstein")
    assert (result.reference_rows, result.current_rows) == (400, 100)


def test_missing_feature_column_in_current_data_is_a_validation_error():
    setup = Setup(_frame(100, seed=2).drop(columns=["heart_rate_bpm"]))
    with pytest.raises(ValidationError, match="heart_rate_bpm") as caught:
        setup.run()
    assert "payload log" in str(caught.value)
    assert "lacks monitored column(s) heart_rate_bpm;" in str(caught.value)
    assert setup.recorder.records == [] and setup.sent == [] and setup.detector.calls == []


@pytest.mark.parametrize(
    "current",
    [pd.DataFrame(), pd.DataFrame({c: pd.Series(dtype=float) for c in (*FEATURES, PREDICTION)})],
    ids=["no-columns", "columns-no-rows"],
)
def test_empty_current_data_is_insufficient_data_never_no_drift(current):
    setup = Setup(current)
    result, report = setup.run()
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert result.status is not DriftStatus.NO_DRIFT
    assert report is None and setup.detector.calls == []
    assert result.current_rows == 0
    assert result.summary() == f"not judged: the payload log holds no rows for {MODEL} version 3"
    assert setup.recorder.records == [(result, None)]
    assert setup.sent == []
    assert not any(c.judged for c in result.columns)


def test_column_with_too_few_values_is_not_judged_and_left_out_of_the_detector():
    current = _frame(100, seed=2)
    current.loc[current.index[10:], "steps"] = NAN  # 10 values left, minimum 30
    setup = Setup(current)
    result, report = setup.run()
    steps = _column(result, "steps")
    assert not steps.judged and steps.score is None and steps.current_count == 10
    assert steps.reason == "10 current values, fewer than the minimum 30"
    assert result.not_judged == ["steps"]
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert result.summary() == "not judged: steps: 10 current values, fewer than the minimum 30"
    judged = ["phq9", "heart_rate_bpm", PREDICTION]
    assert setup.detector.calls == [
        {"columns": judged, "reference_columns": judged, "current_columns": judged}
    ]
    assert set(report.scores) == set(judged)
    assert all(_column(result, c).judged for c in judged)
    assert setup.recorder.records == [(result, report)]
    assert setup.sent == []


def test_too_few_values_elsewhere_does_not_hide_a_drifted_column():
    current = _frame(100, seed=2, shift={"phq9": 2.0})
    current.loc[current.index[10:], "steps"] = NAN
    setup = Setup(current)
    result, _ = setup.run()
    assert result.status is DriftStatus.DRIFT
    assert result.drifted == ["phq9"] and result.not_judged == ["steps"]
    assert "steps" not in setup.detector.calls[0]["columns"]
    assert len(setup.sent) == 1


def test_too_small_reference_column_is_not_judged_with_its_count():
    reference = _frame(400, seed=1)
    reference.loc[reference.index[5:], "heart_rate_bpm"] = NAN
    setup = Setup(_frame(100, seed=2), reference=reference)
    result, _ = setup.run()
    hr = _column(result, "heart_rate_bpm")
    assert hr.reason == "the reference holds 5 values (minimum 30)"
    assert hr.current_count == 100
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert "heart_rate_bpm" not in setup.detector.calls[0]["columns"]


def test_shifted_column_is_drift_and_alerts_are_sent():
    setup = Setup(_frame(100, seed=2, shift={"heart_rate_bpm": 1.5}))
    setup.alerts = [RecordingAlert(), RecordingAlert()]
    result, report = setup.run()
    assert result.status is DriftStatus.DRIFT
    assert result.drifted == ["heart_rate_bpm"]
    hr = _column(result, "heart_rate_bpm")
    assert hr.score == report.scores["heart_rate_bpm"] and hr.score >= hr.threshold == 0.5
    assert all(c.score < 0.5 for c in result.columns if c.column != "heart_rate_bpm")
    assert [a.sent for a in setup.alerts] == [[result], [result]]
    assert setup.recorder.records == [(result, report)]


def test_a_failing_alert_does_not_silence_the_next_one(caplog):
    setup = Setup(_frame(100, seed=2, shift={"heart_rate_bpm": 1.5}))
    broken, after = BrokenAlert(), RecordingAlert()
    setup.alerts = [broken, after]
    with caplog.at_level(logging.ERROR, logger="novamind_core.application.monitor_drift"):
        result, _ = setup.run()  # does not raise
    assert broken.attempts == 1
    assert after.sent == [result]
    assert any(
        r.levelno == logging.ERROR and "BrokenAlert" in r.getMessage() and "503" in r.getMessage()
        for r in caplog.records
    )


def test_per_column_threshold_decides_drift():
    # the same moderate shift: drift under a strict threshold, none under a lenient one
    current = _frame(100, seed=2, shift={"steps": 0.8})
    strict, _ = Setup(current).run(_policy(thresholds={"steps": 0.4}))
    lenient, _ = Setup(current).run(_policy(thresholds={"steps": 2.0}))
    assert strict.drifted == ["steps"]
    assert lenient.status is DriftStatus.NO_DRIFT
    assert _column(lenient, "steps").threshold == 2.0


def test_unshifted_data_is_no_drift_without_alerts():
    setup = Setup(_frame(100, seed=2))
    result, report = setup.run()
    assert result.status is DriftStatus.NO_DRIFT
    assert result.drifted == [] and result.not_judged == []
    assert [c.column for c in result.columns] == [*FEATURES, PREDICTION]
    assert all(c.judged and c.score < c.threshold for c in result.columns)
    assert setup.sent == []
    assert setup.recorder.records == [(result, report)]
    assert result.summary() == "no drift (100 payloads, 4 columns)"


def test_current_data_without_prediction_still_gets_a_verdict(caplog):
    setup = Setup(_frame(100, seed=2).drop(columns=[PREDICTION]))
    with caplog.at_level(logging.WARNING, logger="novamind_core.application.monitor_drift"):
        result, _ = setup.run()
    assert PREDICTION not in [c.column for c in result.columns]
    assert [c.column for c in result.columns] == list(FEATURES)
    assert result.status is DriftStatus.NO_DRIFT
    assert PREDICTION not in setup.detector.calls[0]["columns"]
    assert any(PREDICTION in r.getMessage() for r in caplog.records)


def test_current_data_without_prediction_still_detects_feature_drift():
    current = _frame(100, seed=2, shift={"phq9": -2.0}).drop(columns=[PREDICTION])
    result, _ = Setup(current).run()
    assert result.drifted == ["phq9"]


def test_a_nan_score_is_never_no_drift():
    result, _ = Setup(_frame(100, seed=2)).run(detector=NaNDetector())
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert all(not c.judged for c in result.columns)
    assert "no finite score" in result.summary()


# --------------------------------------------------------------------------- policy


def test_policy_columns_are_features_then_prediction_and_thresholds_fall_back():
    policy = _policy(thresholds={"steps": 0.9}, default_threshold=0.4)
    assert policy.columns == (*FEATURES, PREDICTION)
    assert policy.threshold("steps") == 0.9
    assert policy.threshold("phq9") == 0.4 and policy.threshold(PREDICTION) == 0.4


def test_policy_accepts_a_threshold_for_the_prediction():
    assert _policy(thresholds={PREDICTION: 0.7}).threshold(PREDICTION) == 0.7


@pytest.mark.parametrize(
    "kwargs",
    [
        {"thresholds": {"pulse": 0.5}},
        {"thresholds": {"steps": 0.0}},
        {"thresholds": {"steps": -1.0}},
        {"thresholds": {"steps": NAN}},
        {"default_threshold": 0.0},
        {"default_threshold": -0.5},
        {"features": ()},
        {"min_samples": 0},
        {"min_samples": -3},
    ],
    ids=[
        "unknown-column",
        "zero-threshold",
        "negative-threshold",
        "nan-threshold",
        "zero-default",
        "negative-default",
        "no-features",
        "min-samples-0",
        "min-samples-negative",
    ],
)
def test_policy_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        DriftPolicy(**{"features": FEATURES, **kwargs})


def test_shipped_policy_loads():
    policy = load_policy(MONITORED_FEATURES)
    assert (policy.method, policy.min_samples, policy.default_threshold) == (
        "wasserstein",
        200,
        0.5,
    )
    assert policy.features == MONITORED_FEATURES and policy.prediction == PREDICTION
    assert DEFAULT_POLICY.name == "drift_policy.yaml"


def test_overrides_apply_and_none_is_ignored():
    assert load_policy(MONITORED_FEATURES, min_samples=50).min_samples == 50
    assert load_policy(MONITORED_FEATURES, min_samples=None).min_samples == 200


def test_policy_file_settings_are_read(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "method: hellinger\nmin_samples: 25\ndefault_threshold: 0.3\nthresholds:\n  steps: 0.9\n"
    )
    policy = load_policy(MONITORED_FEATURES, path)
    assert (policy.method, policy.min_samples, policy.default_threshold) == ("hellinger", 25, 0.3)
    assert policy.threshold("steps") == 0.9 and policy.threshold("phq9") == 0.3


def test_empty_policy_file_takes_the_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    policy = load_policy(MONITORED_FEATURES, path)
    assert (policy.method, policy.min_samples, policy.default_threshold) == (
        "wasserstein",
        200,
        0.5,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method: ks\n", "method 'ks' is not one of"),
        ("method: [wasserstein\n", "not valid YAML"),
        ("thresholds:\n  phq9: high\n", "high"),
        ("default_threshold: lots\n", "lots"),
        ("min_samples: many\n", "many"),
        ("thresholds:\n  weight: 0.5\n", "unknown columns: weight"),
        ("thresholds:\n  phq9: -0.5\n", "positive"),
    ],
    ids=[
        "unknown-method",
        "yaml-syntax",
        "non-numeric-threshold",
        "non-numeric-default",
        "non-numeric-min-samples",
        "unknown-column",
        "negative-threshold",
    ],
)
def test_bad_policy_file_is_a_configuration_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "drift.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_policy(MONITORED_FEATURES, path)
    assert str(path) in str(caught.value)


def test_missing_policy_file_is_a_configuration_error_naming_the_file(tmp_path):
    path = tmp_path / "nowhere" / "drift.yaml"
    with pytest.raises(ConfigurationError, match="cannot read") as caught:
        load_policy(MONITORED_FEATURES, path)
    assert str(path) in str(caught.value)


def test_an_override_is_checked_like_the_file(tmp_path):
    with pytest.raises(ConfigurationError, match="method 'ks'"):
        load_policy(MONITORED_FEATURES, method="ks")
    with pytest.raises(ConfigurationError, match="min_samples"):
        load_policy(MONITORED_FEATURES, min_samples=0)


# --------------------------------------------------------------------------- features

D0 = pd.Timestamp("2025-03-01")
FILL = {c: 0.0 for c in MONITORED_FEATURES}


def _day(n: int) -> pd.Timestamp:
    return D0 + pd.Timedelta(days=n)


def _history(rows: list[dict]) -> pd.DataFrame:
    """rows: {"key", "day" (int), and some of the value columns}."""
    return pd.DataFrame(
        [
            {
                KEY: r["key"],
                "day": _day(r["day"]),
                **{k: v for k, v in r.items() if k not in {"key", "day"}},
            }
            for r in rows
        ]
    )


def _records(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same history as raw records (one at noon per day) for build_daily_grid."""
    frame = history.copy()
    for name in MONITORED_FEATURES:
        if name not in frame:
            frame[name] = NAN
    frame["recorded_at"] = pd.to_datetime(frame["day"]) + pd.Timedelta(hours=12)
    observations = frame[[KEY, "recorded_at", *SYMPTOMS]].astype({c: float for c in SYMPTOMS})
    biometrics = frame[[KEY, "recorded_at", *BIOMETRICS]].astype({c: float for c in BIOMETRICS})
    return observations, biometrics


def _grid_at_last_day(history: pd.DataFrame, context_days: int) -> pd.DataFrame:
    grid = build_daily_grid(*_records(history), FILL)
    features = features_on_grid(grid, context_days)
    last = features.groupby(KEY)["day"].transform("max")
    return features[features["day"] == last].drop(columns="day").set_index(KEY)


HAND_ROWS = [
    # patient a: days 0..20; window of 7 days at day 20 = days 14..20
    {"key": "a", "day": 0, "phq9": 3.0, "heart_rate_bpm": 61.0},
    {"key": "a", "day": 13, "phq9": 9.0, "mood": 4.0},  # exactly 7 days old: outside
    {"key": "a", "day": 14, "phq9": 12.0, "steps": 5000.0},  # 6 days old: inside
    {"key": "a", "day": 18, "steps": 7000.0, "sleep_hours": 6.0},
    {"key": "a", "day": 20, "steps": NAN, "gad7": 8.0},  # missing on the last day
    # patient b: days 5..9, short history
    {"key": "b", "day": 5, "mood": 6.0, "hrv_rmssd_ms": 45.0},
    {"key": "b", "day": 9, "mood": 7.0},
]


def test_last_observed_takes_the_last_value_within_the_context_window():
    out = last_observed(_history(HAND_ROWS), context_days=7)
    assert list(out.columns) == list(MONITORED_FEATURES)
    assert list(out.index) == ["a", "b"]
    assert out.dtypes.eq(float).all()
    a, b = out.loc["a"], out.loc["b"]
    assert a["phq9"] == 12.0  # the day-13 and day-0 values are outside the window
    assert a["steps"] == 7000.0  # last non-missing, not the missing last day
    assert a["gad7"] == 8.0 and a["sleep_hours"] == 6.0
    assert np.isnan(a["heart_rate_bpm"])  # observed, but 20 days before: too old
    assert np.isnan(a["mood"])  # day 13 is exactly context_days old: outside
    assert np.isnan(a["hrv_rmssd_ms"])  # never observed
    assert b["mood"] == 7.0 and b["hrv_rmssd_ms"] == 45.0  # b's window is its own
    assert np.isnan(b["phq9"]) and np.isnan(b["steps"])


def test_last_observed_accepts_string_days_and_a_column_subset():
    history = _history(HAND_ROWS)[[KEY, "day", "phq9"]]
    history["day"] = history["day"].dt.strftime("%Y-%m-%d")
    out = last_observed(history, context_days=7)
    assert out.loc["a", "phq9"] == 12.0
    assert out.drop(columns="phq9").isna().all().all()


def test_last_observed_window_widens_with_context_days():
    history = _history(HAND_ROWS)
    assert last_observed(history, context_days=8).loc["a", "mood"] == 4.0
    assert last_observed(history, context_days=21).loc["a", "heart_rate_bpm"] == 61.0


def test_last_observed_agrees_with_features_on_grid_at_the_last_day():
    history = _history(HAND_ROWS)
    expected = _grid_at_last_day(history, context_days=7)
    pd.testing.assert_frame_equal(
        last_observed(history, context_days=7), expected, check_names=False
    )


def _random_history(seed: int, patients: int = 8, days: int = 90) -> pd.DataFrame:
    """Patients of 3 to ``days`` days; each variable observed often, rarely or never."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patients):
        start, length = int(rng.integers(0, 10)), int(rng.integers(3, days))
        rate = dict(zip(MONITORED_FEATURES, rng.choice([0.0, 0.02, 0.3], 7), strict=True))
        for d in range(start, start + length):
            values = {
                c: float(np.round(rng.normal(10, 3), 2))
                for c in MONITORED_FEATURES
                if rng.random() < rate[c]
            }
            if values or d in (start, start + length - 1):  # first and last day present
                rows.append({"key": f"p{p}", "day": d, **values})
    return _history(rows)


@pytest.mark.parametrize("context_days", [1, 7, 28, DAYS_SINCE_CAP])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_last_observed_agrees_with_features_on_grid_on_sparse_histories(seed, context_days):
    history = _random_history(seed)
    expected = _grid_at_last_day(history, context_days)
    actual = last_observed(history, context_days)
    pd.testing.assert_frame_equal(actual, expected, check_names=False)


def test_features_on_grid_respects_a_context_window_longer_than_the_days_since_cap():
    rows = [
        {"key": "a", "day": 0, "phq9": 3.0},  # 59 days before the last day
        {"key": "a", "day": 59, "mood": 5.0},
    ]
    history = _history(rows)
    expected = last_observed(history, context_days=45)
    assert np.isnan(expected.loc["a", "phq9"]) and np.isnan(expected.loc["a", "steps"])
    pd.testing.assert_frame_equal(
        _grid_at_last_day(history, context_days=45), expected, check_names=False
    )


# --------------------------------------------------------------------------- alerts


def _drift_result() -> DriftResult:
    return DriftResult(
        model=MODEL,
        version="3",
        method="wasserstein",
        reference_rows=400,
        current_rows=250,
        columns=(
            ColumnDrift("phq9", 0.5, 250, 0.123456),
            ColumnDrift("heart_rate_bpm", 0.5, 250, 1.23456),
            ColumnDrift("steps", 0.8, 250, 0.8),  # exactly at the threshold: drifted
            ColumnDrift("sleep_hours", 0.5, 12, None, "12 current values, fewer than 200"),
        ),
    )


def test_alert_payload_names_model_version_and_drifted_columns_only():
    payload = alert_payload(_drift_result())
    assert payload["event"] == "drift_detected"
    assert (payload["model"], payload["version"], payload["method"]) == (
        MODEL,
        "3",
        "wasserstein",
    )
    assert payload["drifted"] == {
        "heart_rate_bpm": {"score": 1.2346, "threshold": 0.5},
        "steps": {"score": 0.8, "threshold": 0.8},
    }
    assert payload["current_rows"] == 250
    assert payload["summary"] == "drift in heart_rate_bpm 1.23≥0.5, steps 0.80≥0.8"
    text = json.dumps(payload)  # serializable as a webhook body
    assert KEY not in text and "patient" not in text


def test_log_alert_emits_a_warning_carrying_the_payload(caplog):
    result = _drift_result()
    with caplog.at_level(logging.WARNING, logger="novamind_core.drift"):
        LogAlert().send(result)
    records = [r for r in caplog.records if r.name == "novamind_core.drift"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.alert == alert_payload(result)
    assert MODEL in record.getMessage() and "heart_rate_bpm" in record.getMessage()


# --------------------------------------------------------------------------- summary


def _result(columns, note="", current_rows=250) -> DriftResult:
    return DriftResult(MODEL, "3", "wasserstein", 400, current_rows, tuple(columns), note)


def test_summary_of_drift_lists_column_score_and_threshold():
    result = _result([ColumnDrift("phq9", 0.5, 250, 0.2), ColumnDrift("steps", 0.75, 250, 1.234)])
    assert result.status is DriftStatus.DRIFT
    assert result.summary() == "drift in steps 1.23≥0.75"


def test_summary_of_drift_ignores_columns_not_judged():
    result = _result(
        [ColumnDrift("phq9", 0.5, 250, 0.9), ColumnDrift("steps", 0.5, 3, None, "3 values")]
    )
    assert result.status is DriftStatus.DRIFT
    assert result.summary() == "drift in phq9 0.90≥0.5"


def test_summary_of_no_drift_counts_payloads_and_columns():
    result = _result([ColumnDrift("phq9", 0.5, 250, 0.1), ColumnDrift("steps", 0.5, 250, 0.49)])
    assert result.status is DriftStatus.NO_DRIFT
    assert result.summary() == "no drift (250 payloads, 2 columns)"


def test_summary_of_insufficient_data_groups_columns_by_reason():
    few = "3 current values, fewer than the minimum 200"
    ref = "the reference holds 0 values (minimum 200)"
    result = _result(
        [
            ColumnDrift("phq9", 0.5, 3, None, few),
            ColumnDrift("gad7", 0.5, 250, 0.1),
            ColumnDrift("mood", 0.5, 3, None, few),
            ColumnDrift("steps", 0.5, 250, None, ref),
        ]
    )
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert result.not_judged == ["phq9", "mood", "steps"]
    assert result.summary() == f"not judged: phq9, mood: {few}; steps: {ref}"


def test_summary_of_insufficient_data_prefers_the_note():
    result = _result([], note="the payload log holds no rows", current_rows=0)
    assert result.status is DriftStatus.INSUFFICIENT_DATA
    assert result.summary() == "not judged: the payload log holds no rows"


def test_no_columns_at_all_is_insufficient_data():
    assert _result([]).status is DriftStatus.INSUFFICIENT_DATA


def test_a_drift_reference_is_bound_to_its_model_version():
    from novamind_core.domain.errors import DataProcessingError
    from novamind_core.infrastructure.monitoring.drift_reference import (
        decrypt_reference,
        encrypt_reference,
    )

    frame = _frame(20, seed=1)
    blob = encrypt_reference(frame, b"k" * 32, MODEL, "3")
    assert decrypt_reference(blob, b"k" * 32, MODEL, "3").equals(frame)
    for name, version in ((MODEL, "4"), ("other-model", "3"), (None, None)):
        with pytest.raises(DataProcessingError, match="integrity check failed"):
            decrypt_reference(blob, b"k" * 32, name, version)
