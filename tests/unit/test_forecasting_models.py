"""Forecasting models: metrics, baselines, ensemble/conformal, Transformer, XGBoost, bundle."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

from novamind_core.families.forecasting import (
    baselines,
    ensemble,
    gradient_boosting,
    transformer,
)
from novamind_core.families.forecasting.bundle import ForecasterBundle
from novamind_core.families.forecasting.metrics import (
    horizon_metrics,
    pinball,
    seasonal_scale,
)
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.families.forecasting.windows import Scaler, Windows, feature_columns

# --------------------------------------------------------------------------- metrics


def test_pinball_is_asymmetric_by_quantile():
    target = np.array([10.0, 10.0, 10.0])
    prediction = np.array([8.0, 12.0, 10.0])
    np.testing.assert_allclose(pinball(target, prediction, 0.9), [1.8, 0.2, 0.0])
    np.testing.assert_allclose(pinball(target, prediction, 0.1), [0.2, 1.8, 0.0])
    np.testing.assert_allclose(pinball(target, prediction, 0.5), [1.0, 1.0, 0.0])


def test_horizon_metrics_are_masked_by_observed_days():
    target = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [5.0, 6.0, 0.0]])
    median = np.array([[2.0, 2.0, 9.0], [3.0, 6.0, 9.0], [0.0, 6.0, 9.0]])
    observed = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0]])
    lower = median - 1.0
    upper = median + np.array([[1.0, 3.0, 1.0], [1.0, 3.0, 1.0], [1.0, 3.0, 1.0]])
    out = horizon_metrics(target, observed, median, 2.0, lower, upper)
    # abs errors on observed cells: h1 → 1, 0 ; h2 → 0, 0 ; h3 → none observed
    np.testing.assert_allclose(out["mae"][:2], [0.5, 0.0])
    np.testing.assert_allclose(out["mase"][:2], [0.25, 0.0])
    assert np.isnan(out["mae"][2]) and np.isnan(out["mase"][2])
    assert out["n"] == [2, 2, 0]
    # h1: target 1 in [1, 3] yes, 3 in [2, 4] yes (5 not observed) → coverage 1
    # h2: 2 in [1, 5] yes, 6 in [5, 9] yes → coverage 1 ; widths 2 and 4
    np.testing.assert_allclose(out["coverage"][:2], [1.0, 1.0])
    np.testing.assert_allclose(out["width"][:2], [2.0, 4.0])
    # h1 pinball: row 0: (pin(1,1,.1)=0 + pin(1,2,.5)=.5 + pin(1,3,.9)=.2)/3 = .7/3
    #             row 1: (pin(3,2,.1)=.1 + 0 + pin(3,4,.9)=.1)/3 = .2/3 → mean .15
    np.testing.assert_allclose(out["pinball"][0], 0.15)
    # an interval that misses: coverage drops
    narrow = horizon_metrics(target, observed, median, 2.0, median, median)
    np.testing.assert_allclose(narrow["coverage"][:2], [0.5, 1.0])
    assert "coverage" not in horizon_metrics(target, observed, median, 2.0)


def test_seasonal_scale_is_the_in_sample_seasonal_naive_mae():
    history = np.arange(14, dtype=float)[None, :] * np.array([[1.0], [2.0]])
    observed = np.ones_like(history)
    # row 0 diffs are 7, row 1 diffs are 14 → mean 10.5
    assert seasonal_scale(history, observed) == pytest.approx(10.5)
    observed[1, 0] = 0  # drops one pair of row 1 → (7*7 + 14*6) / 13
    assert seasonal_scale(history, observed) == pytest.approx((49 + 84) / 13)
    with pytest.raises(ValueError, match="MASE"):
        seasonal_scale(history, np.zeros_like(history))


# --------------------------------------------------------------------------- baselines


def test_seasonal_naive_uses_the_same_weekday_of_the_last_week():
    history = np.arange(20, dtype=float)[None, :].repeat(2, axis=0)
    history[1] += 100
    forecast = baselines.seasonal_naive(history, 10)
    expected = [13, 14, 15, 16, 17, 18, 19, 13, 14, 15]
    np.testing.assert_array_equal(forecast[0], expected)
    np.testing.assert_array_equal(forecast[1], np.array(expected) + 100)
    # the source day is always a whole number of weeks before the target day
    origin = history.shape[1] - 1
    target_day = origin + np.arange(1, 11)
    gap = target_day - forecast[0]
    assert (gap % 7 == 0).all() and (gap > 0).all()


def test_last_value_repeats_the_last_history_value():
    history = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(baselines.last_value(history, 4), [[3.0] * 4, [6.0] * 4])


# --------------------------------------------------------------------------- ensemble


def test_fit_weights_recovers_the_mixture_and_ignores_unobserved_targets():
    rng = np.random.default_rng(0)
    a, b = rng.normal(5, 2, (600, 3)), rng.normal(5, 2, (600, 3))
    target = 0.3 * a + 0.7 * b + rng.normal(0, 0.05, (600, 3))
    observed = np.ones_like(target)
    observed[:100] = 0
    target[:100] = 1e6  # garbage on unobserved days must not matter
    weights = ensemble.fit_weights(a, b, target, observed)
    assert weights.shape == (3, 2)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights, np.tile([0.3, 0.7], (3, 1)), atol=0.02)


def test_fit_weights_stay_non_negative_when_one_model_is_anticorrelated():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (300, 2))
    b = rng.normal(0, 1, (300, 2))
    target = -a + 0.5 * b
    weights = ensemble.fit_weights(a, b, target, np.ones_like(target))
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights[:, 0], 0.0, atol=1e-9)


def test_conformal_offsets_give_nominal_coverage_on_fresh_residuals():
    rng = np.random.default_rng(2)
    calibration = rng.normal(0, 1, (2000, 2))
    observed = np.ones_like(calibration)
    lower, upper = ensemble.conformal_offsets(np.zeros_like(calibration), calibration, observed)
    assert (lower < 0).all() and (upper > 0).all()
    np.testing.assert_allclose(lower, -1.2816, atol=0.15)
    np.testing.assert_allclose(upper, 1.2816, atol=0.15)
    fresh = rng.normal(0, 1, (20000, 2))
    covered = ((fresh >= lower) & (fresh <= upper)).mean(axis=0)
    assert ((covered >= 0.77) & (covered <= 0.83)).all(), covered


def test_conformal_offsets_need_ten_observed_targets():
    target = np.zeros((30, 2))
    observed = np.ones_like(target)
    observed[9:, 1] = 0  # horizon 2 has only 9 observed values
    with pytest.raises(ValueError, match="horizon 2"):
        ensemble.conformal_offsets(np.zeros_like(target), target, observed)
    observed[9, 1] = 1
    lower, upper = ensemble.conformal_offsets(np.zeros_like(target), target, observed)
    assert lower.shape == upper.shape == (2,)


def test_calibrate_without_ensemble_uses_the_transformer_only():
    rng = np.random.default_rng(3)
    tm, xg = rng.normal(5, 1, (200, 3)), rng.normal(5, 1, (200, 3))
    target = xg + rng.normal(0, 0.1, (200, 3))
    observed = np.ones_like(target)
    solo = ensemble.calibrate(tm, xg, target, observed, use_ensemble=False)
    np.testing.assert_array_equal(solo.weights, np.tile([1.0, 0.0], (3, 1)))
    np.testing.assert_array_equal(solo.combine(tm, xg), tm)
    mixed = ensemble.calibrate(tm, xg, target, observed, use_ensemble=True)
    assert (mixed.weights[:, 1] > 0.9).all()
    # the interval around a better median is narrower
    assert (
        (mixed.upper_offset - mixed.lower_offset) < (solo.upper_offset - solo.lower_offset)
    ).all()
    restored = ensemble.EnsembleCalibration.from_dict(mixed.to_dict())
    np.testing.assert_array_equal(restored.weights, mixed.weights)
    np.testing.assert_array_equal(restored.lower_offset, mixed.lower_offset)


def test_whole_number_instrument_gets_a_whole_point_forecast_and_keeps_its_coverage():
    rng = np.random.default_rng(5)
    latent = rng.normal(5, 1.5, (4000, 2))
    target = np.round(latent + rng.normal(0, 0.8, latent.shape))  # a whole-number score
    tm, xg = latent + rng.normal(0, 0.3, latent.shape), latent + rng.normal(0, 0.3, latent.shape)
    observed = np.ones_like(target)
    plain = ensemble.calibrate(tm, xg, target, observed, use_ensemble=True)
    whole = ensemble.calibrate(tm, xg, target, observed, use_ensemble=True, round_median=True)
    np.testing.assert_array_equal(whole.weights, plain.weights)  # rounding is after stacking
    median = whole.combine(tm, xg)
    p_lower, p_mid, p_upper = plain.interval(median, 0.0, 10.0)
    lower, mid, upper = whole.interval(median, 0.0, 10.0)
    np.testing.assert_array_equal(mid, np.round(mid))
    assert not np.array_equal(p_mid, np.round(p_mid))
    assert (lower <= mid).all() and (mid <= upper).all()
    # the point forecast of a whole-number target loses nothing by being whole
    assert np.abs(target - mid).mean() < np.abs(target - p_mid).mean()
    # continuous bounds: coverage stays near nominal (whole-number bounds would over-cover)
    for lo, hi in ((lower, upper), (p_lower, p_upper)):
        assert 0.77 <= ((target >= lo) & (target <= hi)).mean() <= 0.85
    restored = ensemble.EnsembleCalibration.from_dict(whole.to_dict())
    assert restored.round_median is True
    older = {k: v for k, v in plain.to_dict().items() if k != "round_median"}
    assert ensemble.EnsembleCalibration.from_dict(older).round_median is False


def test_calibration_interval_is_ordered_and_clipped_to_the_score_range():
    cal = ensemble.EnsembleCalibration(
        np.tile([0.5, 0.5], (2, 1)), np.array([-2.0, -3.0]), np.array([2.0, 3.0])
    )
    median = np.array([[0.5, 5.0], [9.5, 12.0]])
    lower, mid, upper = cal.interval(median, 0.0, 10.0)
    np.testing.assert_array_equal(lower, [[0.0, 2.0], [7.5, 9.0]])
    np.testing.assert_array_equal(mid, [[0.5, 5.0], [9.5, 10.0]])
    np.testing.assert_array_equal(upper, [[2.5, 8.0], [10.0, 10.0]])
    assert (lower <= mid).all() and (mid <= upper).all()


# --------------------------------------------------------------------------- transformer

L, H, F = 8, 3, 4


def _config(**kwargs) -> transformer.TransformerConfig:
    base = dict(
        n_features=F, context_days=L, horizon=H, d_model=16, n_heads=2, encoder_layers=1,
        decoder_layers=1,
    )  # fmt: skip
    return transformer.TransformerConfig(**{**base, **kwargs})


def _model(seed: int = 0, **config) -> transformer.QuantileTransformer:
    torch.manual_seed(seed)
    return transformer.QuantileTransformer(_config(**config)).eval()


def _batch(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(n, L, F, generator=g) * 3
    last = torch.randn(n, generator=g)
    dow = torch.randint(0, 7, (n, H), generator=g)
    return context, last, dow


def test_quantiles_never_cross_for_random_inputs_and_weights():
    for seed in range(3):
        model = _model(seed)
        with torch.no_grad():
            for p in model.head.parameters():
                p.mul_(20)  # extreme head outputs still cannot cross
        context, _, dow = _batch(16, seed)
        previous = torch.randn(16, H) * 5
        for mode in (model.train, model.eval):
            mode()
            with torch.no_grad():
                out = model(context, previous, dow)
            assert out.shape == (16, H, 3)
            assert (out[..., 0] <= out[..., 1]).all() and (out[..., 1] <= out[..., 2]).all()


def test_decoder_is_causal():
    model = _model()
    context, _, dow = _batch(4, 1)
    previous = torch.randn(4, H)
    changed = previous.clone()
    changed[:, -1] += 10.0
    with torch.no_grad():
        a, b = model(context, previous, dow), model(context, changed, dow)
    torch.testing.assert_close(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_decode_is_autoregressive_on_its_own_median(layers):
    # decode keeps each step's keys and values instead of re-running the whole prefix;
    # a teacher-forced pass fed its medians is the definition it must match
    model = _model(decoder_layers=layers, encoder_layers=layers)
    context, last, dow = _batch(5, 2)
    out = model.decode(context, last, dow)
    assert out.shape == (5, H, 3)
    assert (out[..., 0] <= out[..., 1]).all() and (out[..., 1] <= out[..., 2]).all()
    # feeding the decoded medians back as inputs reproduces the decoded output
    previous = torch.cat([last.unsqueeze(1), out[:, :-1, 1]], dim=1)
    with torch.no_grad():
        teacher = model(context, previous, dow)
    torch.testing.assert_close(out, teacher, atol=1e-5, rtol=1e-5)
    # the last observed value drives the forecast
    moved = model.decode(context, last + 5.0, dow)
    assert not torch.allclose(moved[:, 0], out[:, 0])
    assert not torch.allclose(moved[:, -1], out[:, -1])


def test_pinball_loss_value_and_zero_weight_positions_are_ignored():
    pred = torch.zeros(1, 1, 3)
    loss = transformer.pinball_loss(pred, torch.ones(1, 1), torch.ones(1, 1))
    assert float(loss) == pytest.approx((0.1 + 0.5 + 0.9) / 3)

    g = torch.Generator().manual_seed(0)
    pred = torch.randn(6, H, 3, generator=g).sort(dim=-1).values
    target = torch.randn(6, H, generator=g)
    weight = torch.ones(6, H)
    weight[::2, 1:] = 0
    base = transformer.pinball_loss(pred, target, weight)
    noisy = target.clone()
    noisy[::2, 1:] += 1000.0
    torch.testing.assert_close(transformer.pinball_loss(pred, noisy, weight), base)
    assert float(transformer.pinball_loss(pred, noisy, torch.ones(6, H))) > 100 * float(base)
    assert float(transformer.pinball_loss(pred, target, torch.zeros(6, H))) == 0.0


def _learnable(n: int, seed: int):
    """The target repeats the last context value of feature 0 (plus a little noise)."""
    rng = np.random.default_rng(seed)
    context = rng.normal(size=(n, L, F)).astype(np.float32)
    last = context[:, -1, 0].copy()
    target = (last[:, None] + 0.1 * rng.normal(size=(n, H))).astype(np.float32)
    weight = np.ones((n, H), np.float32)
    dow = rng.integers(0, 7, (n, H))
    return context, last, target, weight, dow


def _val_loss(model: transformer.QuantileTransformer, data) -> float:
    context, last, target, weight, dow = data
    pred = transformer.predict(model, context, last, dow)
    return float(
        transformer.pinball_loss(
            torch.as_tensor(pred), torch.as_tensor(target), torch.as_tensor(weight)
        )
    )


@pytest.fixture(scope="module")
def trained():
    train_data, val_data = _learnable(400, 0), _learnable(200, 1)
    model, stats = transformer.train(
        _config(), train_data, val_data, epochs=3, seed=0, batch_size=64
    )
    return model, stats, val_data


def test_training_lowers_validation_loss_below_an_untrained_model(trained):
    model, stats, val_data = trained
    untrained = _val_loss(_model(0), val_data)
    after = _val_loss(model, val_data)
    assert after < 0.6 * untrained, (after, untrained)
    assert stats["best_val_pinball_scaled"] == pytest.approx(after, rel=1e-4)
    assert stats["epochs_run"] == 3.0 and stats["stopped_early"] == 0.0
    assert not model.training


def test_predict_is_batch_size_invariant(trained):
    model, _, (context, last, _, _, dow) = trained
    full = transformer.predict(model, context, last, dow)
    small = transformer.predict(model, context, last, dow, batch_size=64)
    assert full.shape == (len(context), H, 3)
    np.testing.assert_allclose(full, small, atol=1e-5)


# --------------------------------------------------------------------------- gradient boosting

N_FEATURES = len(feature_columns("mood"))


def _windows(n: int, seed: int, context_days: int = 28, horizon: int = H) -> Windows:
    rng = np.random.default_rng(seed)
    history = rng.uniform(0, 10, (n, context_days)).astype(np.float32)
    origin = np.datetime64("2025-01-01") + np.arange(n).astype("timedelta64[D]")
    origin_dow = pd.DatetimeIndex(origin).dayofweek.to_numpy()
    return Windows(
        keys=np.array([f"p{i % 5}" for i in range(n)], dtype=object),
        origin=origin.astype("datetime64[ns]"),
        context=rng.normal(size=(n, context_days, N_FEATURES)).astype(np.float32),
        history=history,
        history_observed=(rng.random((n, context_days)) < 0.7).astype(np.float32),
        target=(history[:, -1:] + rng.normal(0, 0.3, (n, horizon))).astype(np.float32),
        target_observed=(rng.random((n, horizon)) < 0.8).astype(np.float32),
        future_dow=(origin_dow[:, None] + np.arange(1, horizon + 1)) % 7,
    )


def test_tabular_features_match_their_names_and_values():
    w = _windows(12, 0)
    x = gradient_boosting.tabular(w)
    names = gradient_boosting.feature_names(feature_columns("mood"))
    assert x.shape == (12, len(names)) and x.dtype == np.float32
    col = {name: i for i, name in enumerate(names)}
    np.testing.assert_allclose(x[:, col["lag_0"]], w.history[:, -1])
    np.testing.assert_allclose(x[:, col["lag_13"]], w.history[:, -14])
    np.testing.assert_allclose(x[:, col["mean_7"]], w.history[:, -7:].mean(1), rtol=1e-5)
    np.testing.assert_allclose(x[:, col["observed_28"]], w.history_observed.mean(1), rtol=1e-5)
    np.testing.assert_allclose(x[:, col["steps_last"]], w.context[:, -1, col["steps_last"] - 21])
    np.testing.assert_array_equal(
        x[:, col["origin_dow"]], pd.DatetimeIndex(w.origin).dayofweek.to_numpy()
    )


def test_tune_runs_trials_and_resumes_a_stored_study(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, :2] + 0.1 * rng.normal(size=(90, 2))).astype(np.float32)
    origins = rng.permutation(90)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = gradient_boosting.tune(
        x, y, origins, trials=3, seed=0, storage=storage, study_name="s", n_jobs=1
    )
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(completed) == 3
    assert np.isfinite(study.best_value) and study.best_value > 0
    assert set(study.best_params) >= {"max_depth", "learning_rate", "n_estimators"}
    again = gradient_boosting.tune(
        x, y, origins, trials=2, seed=0, storage=storage, study_name="s", n_jobs=1
    )
    assert len(again.trials) == 5
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 5
    other = gradient_boosting.tune(
        x, y, origins, trials=1, seed=0, storage=storage, study_name="other", n_jobs=1
    )
    assert len(other.trials) == 1


def test_fit_per_horizon_trains_on_observed_targets_only():
    w = _windows(80, 5)
    x = gradient_boosting.tabular(w)
    params = {"max_depth": 2, "n_estimators": 20, "learning_rate": 0.3}
    models = gradient_boosting.fit_per_horizon(x, w.target, w.target_observed, params, 0, 1)
    assert len(models) == H
    pred = gradient_boosting.predict(models, x)
    assert pred.shape == (80, H)
    spoiled = np.where(w.target_observed > 0, w.target, 1e6).astype(np.float32)
    same = gradient_boosting.fit_per_horizon(x, spoiled, w.target_observed, params, 0, 1)
    np.testing.assert_allclose(gradient_boosting.predict(same, x), pred)
    names = gradient_boosting.feature_names(feature_columns("mood"))
    importance = gradient_boosting.importance(models, names)
    assert set(importance) <= set(names)
    assert sum(importance.values()) == pytest.approx(1.0)
    assert list(importance.values()) == sorted(importance.values(), reverse=True)


# --------------------------------------------------------------------------- bundle


@pytest.fixture(scope="module")
def bundle():
    spec = ForecastSpec(horizon=H, context_days=28)
    w = _windows(60, 6)
    x = gradient_boosting.tabular(w)
    xgb_models = gradient_boosting.fit_per_horizon(
        x, w.target, w.target_observed, {"max_depth": 2, "n_estimators": 10}, 0, 1
    )
    config = _config(n_features=N_FEATURES, context_days=28)
    torch.manual_seed(0)
    model = transformer.QuantileTransformer(config).eval()
    columns = feature_columns("mood")
    scaler = Scaler({c: 0.0 for c in columns} | {"mood": 5.0}, {c: 1.0 for c in columns})
    scaler.std["mood"] = 2.0
    calibration = ensemble.EnsembleCalibration(
        np.tile([0.4, 0.6], (H, 1)), np.full(H, -1.0), np.full(H, 1.5)
    )
    fill = {c: 1.0 for c in ("phq9", "gad7", "mood")} | {
        "heart_rate_bpm": 70.0,
        "hrv_rmssd_ms": 40.0,
        "sleep_hours": 7.0,
        "steps": 8000.0,
    }
    return ForecasterBundle(spec, scaler, fill, config, model, xgb_models, calibration)


def test_bundle_forecast_combines_models_within_the_score_range(bundle):
    w = _windows(10, 7)
    f = bundle.forecast(w)
    assert f.median.shape == f.lower.shape == f.upper.shape == (10, H)
    expected = np.clip(0.4 * f.transformer_median + 0.6 * f.xgboost, 0.0, 10.0)
    np.testing.assert_allclose(f.median, expected, rtol=1e-5)
    assert (f.lower <= f.median).all() and (f.median <= f.upper).all()
    assert (f.lower >= 0).all() and (f.upper <= 10).all()


def test_bundle_round_trips_through_a_directory(bundle, tmp_path):
    bundle.save(tmp_path / "model")
    loaded = ForecasterBundle.load(tmp_path / "model")
    assert loaded.spec == bundle.spec and loaded.model_config == bundle.model_config
    w = _windows(10, 8)
    a, b = bundle.forecast(w), loaded.forecast(w)
    for field in ("lower", "median", "upper", "transformer_median", "xgboost"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-5, err_msg=field)


def test_bundle_forecasts_the_days_after_each_patients_history(bundle):
    days = pd.date_range("2025-03-01", periods=35, freq="D")
    rng = np.random.default_rng(9)
    history = pd.DataFrame(
        {
            "patient_key": ["a"] * 35 + ["b"] * 30,
            "day": list(days) + list(days[:30]),
            "mood": rng.integers(0, 11, 65).astype(float),
            "steps": rng.integers(1000, 9000, 65).astype(float),
        }
    )
    history.loc[history.index % 4 == 0, "mood"] = np.nan
    out = bundle.forecast_history(history)
    assert len(out) == 2 * H
    assert list(out["horizon"]) == [1, 2, 3, 1, 2, 3]
    a, b = out[out["patient_key"] == "a"], out[out["patient_key"] == "b"]
    assert list(a["day"]) == list(pd.date_range(days[-1] + pd.Timedelta(days=1), periods=H))
    assert list(b["day"]) == list(pd.date_range(days[29] + pd.Timedelta(days=1), periods=H))
    assert (out["lower"] <= out["median"]).all() and (out["median"] <= out["upper"]).all()
    assert out[["lower", "median", "upper"]].stack().between(0, 10).all()


def test_forecast_of_daily_columns_equals_the_forecast_of_the_history_frame(bundle):
    # the server's numpy path and the pandas path (MLflow pyfunc, batch scoring) agree
    rng = np.random.default_rng(11)
    histories, frames = [], []
    for i, length in enumerate((28, 35, 40, 31)):
        kept = np.sort(rng.choice(length, size=length - 3 * i, replace=False))
        kept[0], kept[-1] = 0, length - 1  # the span stays ``length`` days
        kept = np.unique(kept)
        day = (np.datetime64("2025-02-01") + 5 * i + kept).astype("datetime64[D]")
        mood = rng.integers(0, 11, len(kept)).astype(float)
        mood[rng.random(len(kept)) < 0.3] = np.nan
        steps = rng.integers(1000, 9000, len(kept)).astype(float)
        histories.append({"day": day, "mood": mood, "steps": steps})
        frames.append(
            pd.DataFrame({"patient_key": f"k{i}", "day": day, "mood": mood, "steps": steps})
        )
    expected = bundle.forecast_history(pd.concat(frames))
    columns, grid = bundle.forecast_daily(histories)
    np.testing.assert_array_equal(columns["index"], expected["patient_key"].str[1:].astype(int))
    np.testing.assert_array_equal(
        columns["day"], expected["day"].to_numpy().astype("datetime64[D]")
    )
    for name in ("horizon", "median", "lower", "upper"):
        np.testing.assert_allclose(columns[name], expected[name].to_numpy(), rtol=0, atol=1e-9)
    spans = [(h["day"][-1] - h["day"][0]).astype(int) + 1 for h in histories]
    assert len(grid["day"]) == sum(spans)


def test_a_bundle_prepared_for_serving_forecasts_the_same(bundle, tmp_path):
    bundle.save(tmp_path / "model")
    served = ForecasterBundle.load(tmp_path / "model")
    served.prepare_for_serving()
    assert served.decoder is not None and served.xgb_merged is not None
    w = _windows(12, 3)
    a, b = bundle.forecast(w), served.forecast(w)
    for field in ("lower", "median", "upper", "transformer_median", "xgboost"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-4, err_msg=field)


def test_merged_horizon_booster_predicts_what_the_horizon_models_predict():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = np.stack([x[:, 0] * (h + 1) + rng.normal(size=120) for h in range(3)], axis=1)
    models = [
        gradient_boosting._regressor({"max_depth": 3, "n_estimators": n}, 0, 1).fit(x, y[:, h])
        for h, n in enumerate((12, 7, 20))  # a different number of trees per horizon
    ]
    merged = gradient_boosting.merge_horizons(models)
    fresh = rng.normal(size=(9, 6)).astype(np.float32) * 2
    expected = gradient_boosting.predict(models, fresh)
    np.testing.assert_allclose(gradient_boosting.predict_merged(merged, fresh), expected, atol=1e-6)
    one = gradient_boosting.predict_merged(merged, fresh[:1])
    assert one.shape == (1, 3)
