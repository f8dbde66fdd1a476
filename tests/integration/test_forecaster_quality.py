"""Model tests: quality against baselines, calibration, and behaviour of the forecaster."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from novamind_core.application.deidentify import deidentify
from novamind_core.families.forecasting import training
from novamind_core.families.forecasting.pyfunc import input_example
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate


@pytest.fixture(scope="module")
def trained():
    cohort = generate(CohortConfig(patients=120, days=240, seed=21))
    tables = deidentify(cohort.tables, HmacPseudonymizer(b"q" * 32), date(2025, 12, 31))
    spec = ForecastSpec(seed=3)
    grid, fill, _ = training.impute(tables["symptom_observations"], tables["biometrics"], spec)
    prepared = training.prepare(grid, training.split(grid, spec), spec)
    config, model, _ = training.train_transformer(
        prepared, spec, epochs=4, encoder_layers=1, decoder_layers=1
    )
    _, xgb_models, importance, _ = training.tune_xgboost(prepared, spec, 4, None, "quality")
    bundle = training.fit_ensemble(prepared, spec, fill, config, model, xgb_models, True)
    evaluation = training.evaluate(bundle, prepared, spec, with_ets=False)
    return bundle, prepared, evaluation, importance


def mean(values):
    return float(np.nanmean(values))


def test_ensemble_beats_naive_baselines(trained):
    _, _, evaluation, _ = trained
    models = evaluation["test"]["models"]
    assert mean(models["ensemble"]["mase"]) < 0.9 * mean(models["seasonal_naive"]["mase"])
    assert mean(models["ensemble"]["mase"]) < mean(models["last_value"]["mase"])


def test_nominal_80_percent_intervals_cover_about_80_percent(trained):
    _, _, evaluation, _ = trained
    coverage = mean(evaluation["test"]["models"]["ensemble"]["coverage"])
    assert 0.7 <= coverage <= 0.9


def test_quantiles_never_cross_and_stay_on_the_scale(trained):
    bundle, prepared, _, _ = trained
    f = bundle.forecast(prepared.windows["test"])
    assert (f.lower <= f.median).all() and (f.median <= f.upper).all()
    assert f.lower.min() >= 0 and f.upper.max() <= 10


def test_recent_history_drives_the_forecast(trained):
    """Direction: a better recent mood gives a higher forecast; invariance: the pseudonym
    itself does not matter."""
    bundle, _, _, _ = trained
    low = input_example({**bundle.fill_values, "mood": 3.0}, 30)
    high = input_example({**bundle.fill_values, "mood": 8.0}, 30)
    f_low, f_high = bundle.forecast_history(low), bundle.forecast_history(high)
    assert (f_high["median"].to_numpy() > f_low["median"].to_numpy() + 1.0).all()
    renamed = high.assign(patient_key="p_" + "f" * 24)
    np.testing.assert_allclose(bundle.forecast_history(renamed)["median"], f_high["median"])


def test_the_target_history_dominates_feature_importance(trained):
    _, _, _, importance = trained
    top = list(importance)[:5]
    assert any(name.startswith(("mean_", "lag_", "mood")) for name in top)
