"""The HFBN symptom predictor: hourly bins of the raw wearable readings, ordered and
finite quantile forecasts, masking of days without a record, save/load, and the MLflow
model loaded in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.alignment import align
from novamind_core.families.biometric.hfbn import (
    HfbnPredictor,
    HfbnSettings,
    fit,
    input_arrays,
    log_to_mlflow,
)
from novamind_core.families.biometric.intraday import Intraday, hourly
from novamind_core.families.biometric.prediction_windows import Scaling, windows_from
from novamind_core.families.biometric.signals import KEY
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

NAN = np.nan


def hand_made():
    """Two patients: a's readings on 1 and 2 January (two in 08h, one in 10h, one at
    23:59 on the 2nd, a sleep summary), b's one reading on 3 January."""
    biometrics = pd.DataFrame(
        {
            KEY: ["a", "a", "a", "a", "a", "b"],
            "recorded_at": [
                "2024-01-01T08:10:00Z",
                "2024-01-01T08:50:00Z",
                "2024-01-01T10:00:00Z",
                "2024-01-02T06:30:00Z",
                "2024-01-02T23:59:00Z",
                "2024-01-03T00:05:00Z",
            ],
            "record_type": ["reading", "reading", "reading", "sleep_summary", "reading", "reading"],
            "heart_rate_bpm": [60.0, 70.0, 80.0, NAN, 90.0, 55.0],
            "hrv_rmssd_ms": [40.0, NAN, 30.0, NAN, NAN, 50.0],
            "sleep_hours": [NAN, NAN, NAN, 7.5, NAN, NAN],
            "steps": [NAN] * 6,
        }
    )
    observations = pd.DataFrame(
        {KEY: ["a", "b"], "recorded_at": ["2024-01-01T12:00:00Z", "2024-01-03T12:00:00Z"]}
    ).assign(phq9=[5.0, 7.0], gad7=[4.0, 3.0], mood=[6.0, 5.0])
    return observations, biometrics


def test_hourly_bins_are_the_mean_of_the_hours_readings():
    observations, biometrics = hand_made()
    cohort = align(observations, biometrics)
    grid = hourly(biometrics, cohort)
    a, b = list(grid.keys).index("a"), list(grid.keys).index("b")
    assert grid.readings.shape == (2, cohort.values.shape[2], 24, 2)
    np.testing.assert_array_equal(grid.readings[a, 0, 8], [65.0, 40.0])  # hrv: one reading
    np.testing.assert_array_equal(grid.readings[a, 0, 10], [80.0, 30.0])
    np.testing.assert_array_equal(grid.readings[a, 1, 23], [90.0, NAN])
    np.testing.assert_array_equal(grid.readings[b, 0, 0], [55.0, 50.0])
    assert np.isnan(grid.readings[a, 0, 9]).all()  # no reading that hour
    assert np.isnan(grid.readings[a, 1, 6]).all()  # a sleep summary is not a reading
    assert (~np.isnan(grid.readings[..., 0])).sum() == 4

    frame = grid.to_frame()
    assert len(frame) == 4 and set(frame.columns) >= {KEY, "day", "hour"}
    again = Intraday.from_frame(frame, cohort)
    np.testing.assert_array_equal(again.readings, grid.readings)


def test_a_reading_outside_its_valid_range_is_an_error_naming_the_column():
    observations, biometrics = hand_made()
    cohort = align(observations, biometrics)
    broken = biometrics.copy()
    broken.loc[1, "hrv_rmssd_ms"] = 4000.0  # seconds taken for milliseconds, say
    with pytest.raises(ValidationError, match="hrv_rmssd_ms"):
        hourly(broken, cohort)


def test_gather_reads_each_windows_days_and_leaves_days_before_the_first_missing():
    observations, biometrics = hand_made()
    cohort = align(observations, biometrics)
    grid = hourly(biometrics, cohort)
    windows = windows_from(cohort, origins="last", need_target=False)
    patches = grid.gather(windows)
    assert patches.shape == (len(windows), 28, 24, 2)
    a = list(windows.keys).index("a")
    # a's grid runs 1–2 January; the window ends on the 2nd: days 26 and 27 of 28
    np.testing.assert_array_equal(patches[a, 26], grid.readings[0, 0])
    np.testing.assert_array_equal(patches[a, 27], grid.readings[0, 1])
    assert np.isnan(patches[a, :26]).all()


@pytest.fixture(scope="module")
def fitted():
    generated = generate(CohortConfig(patients=60, days=120, seed=5))
    tables = {k: v.rename(columns={"patient_id": KEY}) for k, v in generated.tables.items()}
    cohort = align(tables["symptom_observations"], tables["biometrics"])
    grid = hourly(tables["biometrics"], cohort)
    rows = np.arange(len(cohort.keys))
    train = windows_from(cohort.subset(rows[:44]), stride=2)
    validation = windows_from(cohort.subset(rows[44:52]), stride=4)
    test = windows_from(cohort.subset(rows[52:]), stride=5)
    scaling = Scaling.fit(train)
    settings = HfbnSettings(
        max_epochs=2, batch_size=128, max_train_windows=768, max_validation_windows=256
    )
    predictor = fit(train, validation, scaling, grid, settings)
    return predictor, test, grid


def test_forecasts_are_finite_and_ordered_even_without_any_intraday_reading(fitted):
    predictor, test, grid = fitted
    assert 1 <= predictor.epochs_run <= 2 and predictor.training_seconds > 0
    blank = Intraday(grid.keys, grid.start, np.full_like(grid.readings, np.nan))
    for intraday in (grid, blank):
        forecast = predictor.predict(test, intraday)
        assert forecast.median.shape == (len(test), 7, 3)
        for part in (forecast.lower, forecast.median, forecast.upper):
            assert part.dtype == np.float32 and np.isfinite(part).all()
        assert (forecast.lower <= forecast.median).all()
        assert (forecast.median <= forecast.upper).all()


def test_values_of_a_fully_masked_day_do_not_change_the_prediction(fitted):
    predictor, test, grid = fitted
    arrays = input_arrays(test.subset(np.arange(32)), predictor.scaling, grid)
    daily_masks, hour_masks = arrays["daily"][..., 7:], arrays["intraday"][..., 2:]
    empty = (daily_masks.sum(axis=2) == 0) & (hour_masks.sum(axis=(2, 3)) == 0)  # (N, 28)
    assert empty.any() and (~empty).any()
    rng = np.random.default_rng(0)
    before = predictor.model.predict(arrays, verbose=0)

    changed = {k: v.copy() for k, v in arrays.items()}
    changed["daily"][..., :7][empty] = rng.normal(size=(int(empty.sum()), 7))
    changed["intraday"][..., :2][empty] = rng.normal(size=(int(empty.sum()), 24, 2))
    np.testing.assert_allclose(predictor.model.predict(changed, verbose=0), before, atol=1e-5)

    touched = {k: v.copy() for k, v in arrays.items()}  # a day with a record does count
    touched["daily"][..., :7][~empty] += 1.0
    assert np.abs(predictor.model.predict(touched, verbose=0) - before).max() > 1e-3


def test_save_then_load_gives_identical_predictions(fitted, tmp_path):
    predictor, test, grid = fitted
    predictor.save(tmp_path / "hfbn")
    loaded = HfbnPredictor.load(tmp_path / "hfbn")
    assert loaded.settings == predictor.settings and loaded.epochs_run == predictor.epochs_run
    np.testing.assert_array_equal(loaded.scaling.mean, predictor.scaling.mean)
    first, second = predictor.predict(test, grid), loaded.predict(test, grid)
    for a, b in zip(
        (first.lower, first.median, first.upper),
        (second.lower, second.median, second.upper),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


FRESH = """
import json, sys
import numpy as np
import mlflow.pyfunc
uri, data = sys.argv[1], np.load(sys.argv[2])
example = {"daily": data["daily"], "intraday": data["intraday"]}
model = mlflow.pyfunc.load_model(uri)
out = np.asarray(model.predict(example))
print(json.dumps({
    "raw": type(model.get_raw_model()).__name__,
    "shape": list(out.shape),
    "finite": bool(np.isfinite(out).all()),
    "gap": float(np.abs(out - data["expected"]).max()),
}))
"""


@pytest.mark.slow  # a fresh TensorFlow process: the correlator's integration test loads the
# registered HFBN in a fresh process too, so the default run keeps that one
def test_the_mlflow_model_loads_and_predicts_in_a_fresh_process(fitted, tmp_path):
    import mlflow

    predictor, test, grid = fitted
    example = input_arrays(test.subset(np.arange(3)), predictor.scaling, grid)
    expected = predictor.model.predict(example, verbose=0)
    tracking = f"sqlite:///{tmp_path}/m.db"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking)
    try:
        experiment = mlflow.create_experiment(
            "hfbn", artifact_location=(tmp_path / "artifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment):
            uri = log_to_mlflow(predictor, "hfbn", example)
    finally:
        mlflow.set_tracking_uri(previous)
    np.savez(tmp_path / "example.npz", expected=expected, **example)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking}
    env.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)  # nothing pickled may be needed
    done = subprocess.run(
        [sys.executable, "-c", FRESH, uri, str(tmp_path / "example.npz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["raw"] == "Functional"  # the Keras model itself, no pickled wrapper
    assert result["shape"] == [3, 7, 3, 3] and result["finite"] and result["gap"] < 1e-4
