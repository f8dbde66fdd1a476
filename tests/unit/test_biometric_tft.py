"""The Temporal Fusion Transformer symptom predictor (pytorch-forecasting): its batches
are the library dataset's, unobserved target days never count, and a small fitted model
gives ordered finite quantiles, importances and attention that survive save → load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from novamind_core.families.biometric import tft
from novamind_core.families.biometric.alignment import align
from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGETS,
    Scaling,
    windows_from,
)
from novamind_core.families.biometric.signals import KEY, SIGNALS
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

SETTINGS = tft.TftSettings(
    hidden_size=8, attention_heads=2, max_epochs=2, batch_size=64, max_train_windows=768
)


@pytest.fixture(scope="module")
def data():
    """60 patients × 120 days: 40 train, 10 validation, 10 test patients."""
    cohort = generate(CohortConfig(patients=60, days=120, seed=3))
    tables = {k: v.rename(columns={"patient_id": KEY}) for k, v in cohort.tables.items()}
    aligned = align(tables["symptom_observations"], tables["biometrics"])
    parts = {
        "train": aligned.subset(np.arange(0, 40)),
        "validation": aligned.subset(np.arange(40, 50)),
        "test": aligned.subset(np.arange(50, 60)),
    }
    windows = {name: windows_from(part, stride=1) for name, part in parts.items()}
    windows["serving"] = windows_from(parts["test"], need_target=False, origins="last")
    return windows, Scaling.fit(windows["train"])


@pytest.fixture(scope="module")
def model(data):
    windows, scaling = data
    return tft.fit(windows["train"], windows["validation"], scaling, SETTINGS)


def _equal(a, b) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b, strict=True))
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def test_batches_are_those_of_the_library_dataset(data):
    windows, scaling = data
    some = windows["train"].subset(np.arange(0, 4000, 40))
    dataset = tft._dataset(tft._frame(some, scaling))
    assert list(dataset.reals) == list(tft.REALS)
    x_ref, (y_ref, w_ref) = next(iter(dataset.to_dataloader(train=False, batch_size=len(some))))
    x, (y, w) = tft._Batches(some, scaling).__getitems__(list(range(len(some))))
    assert set(x) == set(x_ref)
    for key in x_ref:
        assert _equal(x[key], x_ref[key]), key
    assert _equal(y, y_ref) and _equal(w, w_ref)


def test_weight_packs_each_targets_observed_days(data):
    windows, scaling = data
    some = windows["train"].subset(np.arange(200))
    _, (_, weight) = tft._Batches(some, scaling).__getitems__(list(range(200)))
    packed = weight.numpy().astype(int)
    for s in range(len(TARGETS)):
        assert np.array_equal((packed >> s) & 1, some.observed[:, :, s].astype(int))


def test_loss_counts_observed_target_days_only():
    rng = np.random.default_rng(0)
    pred = torch.tensor(rng.normal(size=(5, HORIZON, 3)), dtype=torch.float32)
    target = torch.tensor(rng.normal(size=(5, HORIZON)), dtype=torch.float32)
    seen = rng.random((5, HORIZON)) < 0.4
    other = rng.random((5, HORIZON)) < 0.5  # another target's bit: must not matter
    packed = torch.tensor(seen * 2 + other * 1, dtype=torch.float32)
    loss = tft.ObservedQuantileLoss(target_index=1)
    value = loss(pred, (target, packed))
    q = np.asarray(tft.QUANTILES)
    diff = target.numpy()[..., None] - pred.numpy()
    pinball = 2 * np.maximum(q * diff, (q - 1) * diff).mean(-1)
    assert float(value) == pytest.approx(pinball[seen].mean(), rel=1e-5)
    moved = target.clone()
    moved[torch.tensor(~seen)] += 100.0  # unobserved days may hold anything
    assert float(tft.ObservedQuantileLoss(target_index=1)(pred, (moved, packed))) == pytest.approx(
        float(value), rel=1e-6
    )
    nothing = tft.ObservedQuantileLoss(target_index=2)(pred, (target, packed))
    assert float(nothing) == 0.0  # a batch without any observed day: 0, not NaN


def test_forecast_is_finite_ordered_and_shaped(model, data):
    windows, _ = data
    test = windows["test"]
    forecast = model.predict(test)
    for part in (forecast.median, forecast.lower, forecast.upper):
        assert part.shape == (len(test), HORIZON, len(TARGETS))
        assert part.dtype == np.float32
        assert np.isfinite(part).all()
    assert (forecast.lower <= forecast.median).all()
    assert (forecast.median <= forecast.upper).all()
    assert model.epochs_run >= 1 and model.training_seconds > 0
    # in points, not standardized units: PHQ-9 medians around the cohort's scores
    assert 0 < np.median(forecast.median[:, :, 0]) < 27


def test_windows_without_observed_targets_predict_finite(model, data):
    windows, _ = data
    serving = windows["serving"]
    assert np.isnan(serving.y).all()
    forecast = model.predict(serving)
    assert forecast.median.shape == (len(serving), HORIZON, len(TARGETS))
    assert np.isfinite(forecast.lower).all() and np.isfinite(forecast.upper).all()
    assert np.isfinite(forecast.median).all()
    empty = model.predict(serving.subset(np.arange(0)))
    assert empty.median.shape == (0, HORIZON, len(TARGETS))


def test_variable_importance_sums_to_one_and_names_the_signals(model):
    importance = model.variable_importance()
    assert set(importance) == {"encoder", "decoder", "static"}
    for shares in importance.values():
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(v >= 0 for v in shares.values())
    assert set(SIGNALS) <= set(importance["encoder"])
    assert {f"{s}_observed" for s in SIGNALS} <= set(importance["encoder"])
    assert set(importance["decoder"]) == {"relative_time_idx"}
    assert set(importance["static"]) == set(tft.STATIC_COLUMNS)


def test_attention_rows_sum_to_one(model, data):
    windows, _ = data
    test = windows["test"].subset(np.arange(300))
    attention = model.attention(test)
    assert attention.shape == (300, LOOKBACK)
    assert np.isfinite(attention).all() and (attention >= 0).all()
    assert np.allclose(attention.sum(axis=1), 1.0)


def test_save_then_load_predicts_the_same(model, data, tmp_path):
    windows, _ = data
    test = windows["test"].subset(np.arange(500))
    model.save(tmp_path)
    meta = json.loads((tmp_path / "tft.json").read_text())
    assert meta["settings"] == {**meta["settings"], "hidden_size": 8, "seed": 0}
    torch.load(tmp_path / "tft.pt", weights_only=True)  # a plain state dict, no pickles
    loaded = tft.TftPredictor.load(tmp_path)
    before, after = model.predict(test), loaded.predict(test)
    for a, b in ((before.median, after.median), (before.lower, after.lower)):
        assert np.array_equal(a, b)
    assert np.array_equal(model.attention(test), loaded.attention(test))
    assert loaded.variable_importance() == model.variable_importance()
    assert loaded.epochs_run == model.epochs_run


def test_a_seeded_fit_repeats_exactly_and_restores_torch_threads(data):
    windows, scaling = data
    settings = tft.TftSettings(hidden_size=4, max_epochs=1, batch_size=32, max_train_windows=128)
    threads = torch.get_num_threads()
    first = tft.fit(windows["train"], windows["validation"], scaling, settings)
    second = tft.fit(windows["train"], windows["validation"], scaling, settings)
    assert torch.get_num_threads() == threads
    test = windows["test"].subset(np.arange(100))
    assert np.array_equal(first.predict(test).median, second.predict(test).median)


def test_settings_are_checked():
    with pytest.raises(ValueError):
        tft.TftSettings(hidden_size=2)
    with pytest.raises(ValueError):
        tft.TftSettings(batch_size=256, max_train_windows=100)
