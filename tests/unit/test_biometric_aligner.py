"""The contrastive wearable–symptom aligner on a small synthetic cohort: retrieval of the
same patient-days on held-out patients far above chance (and an untrained network and a
mispaired control at chance), unit-norm finite embeddings even without any wearable
day, invariance to a window's level, save → load, and the ridge that uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from novamind_core.domain import patient_split
from novamind_core.families.biometric import aligner as A
from novamind_core.families.biometric.alignment import align
from novamind_core.families.biometric.prediction_windows import (
    LOOKBACK,
    TARGET_INDEX,
    WEARABLE_INDEX,
    Scaling,
    Windows,
    windows_from,
)
from novamind_core.families.biometric.signals import KEY
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

BATCH = 64  # ~1,600 test windows of 12 patients: 25 batches
# One thread: the result is the same, and on a busy two-core runner two OpenMP threads
# train several times slower.
SETTINGS = A.AlignerSettings(
    hidden=16, max_epochs=4, max_train_windows=6000, learning_rate=3e-3, threads=1
)


@pytest.fixture(scope="module")
def trained():
    """80 patients × 150 days (seed 3) → train / validation / test patients, and an
    aligner trained on the training patients (measured: test top-1 ≈ 0.20 at batch 64,
    top-5 ≈ 0.48; untrained and mispaired ≈ 0.01–0.02, chance 0.016)."""
    generated = generate(CohortConfig(patients=80, days=150, seed=3))
    tables = {k: v.rename(columns={"patient_id": KEY}) for k, v in generated.tables.items()}
    cohort = align(tables["symptom_observations"], tables["biometrics"])
    side = patient_split.assign(list(cohort.keys), 0.15, 0)
    windows = {
        s: windows_from(
            cohort.subset([i for i, k in enumerate(cohort.keys) if side[k] == s]), stride=1
        )
        for s in ("train", "validation", "test")
    }
    scaling = Scaling.fit(windows["train"])
    threads = torch.get_num_threads()
    try:
        aligner = A.fit(windows["train"], windows["validation"], scaling, SETTINGS)
    finally:
        torch.set_num_threads(threads)  # fit sets it for the process
    return aligner, windows, scaling


def test_retrieval_on_held_out_patients_beats_chance_widely(trained):
    aligner, windows, _ = trained
    test = windows["test"]
    result = aligner.retrieval(test, batch=BATCH, seed=0)
    assert result["chance_top1"] == pytest.approx(1 / BATCH)
    assert result["chance_top5"] == pytest.approx(5 / BATCH)
    assert result["batches"] == len(test) // BATCH
    assert result["windows"] == result["batches"] * BATCH
    # ≥ 6× chance at top-1 (measured ≈ 13×), both directions
    assert result["top1"] > 0.10
    assert result["reverse_top1"] > 0.10
    assert result["top5"] > 0.30
    assert result["reverse_top5"] > 0.30
    assert aligner.epochs_run >= 1 and aligner.training_seconds > 0
    # the validation batches hold SETTINGS.batch_size windows: log(256) is an uninformed model
    assert aligner.best_val_loss < np.log(SETTINGS.batch_size) - 0.5


def test_an_untrained_network_and_mispaired_windows_retrieve_at_chance(trained):
    aligner, windows, scaling = trained
    test = windows["test"]
    untrained = A.Aligner(A.AlignerNet(SETTINGS), scaling, SETTINGS)
    assert untrained.retrieval(test, batch=BATCH)["top1"] < 3 / BATCH
    others = test.subset(np.random.default_rng(0).permutation(len(test)))
    mispaired = aligner.retrieval(test, batch=BATCH, symptoms=others)
    assert mispaired["top1"] < 3 / BATCH
    assert mispaired["top5"] < 3 * 5 / BATCH


def test_retrieval_batches_hold_every_patient_and_keep_a_patients_windows_apart(trained):
    _, windows, _ = trained
    test = windows["test"]
    batch = 32
    batches = A.retrieval_batches(test, batch, seed=1)
    k = len(test) // batch
    assert len(batches) == k and all(len(b) == batch for b in batches)
    everything = np.concatenate(batches)
    assert len(np.unique(everything)) == len(everything)
    keys, counts = np.unique(test.keys.astype(str), return_counts=True)
    everywhere = set(keys[counts >= 2 * k])  # enough windows to reach every batch
    assert len(everywhere) >= 8
    days = test.origin.astype("datetime64[D]").astype(np.int64)
    for rows in batches:
        assert everywhere <= set(test.keys[rows].astype(str))
        for key in np.unique(test.keys[rows].astype(str)):
            mine = np.sort(days[rows][test.keys[rows].astype(str) == key])
            assert np.diff(mine).min(initial=k) >= k  # k ≥ 28 here: no shared days
    assert k >= LOOKBACK


def test_embeddings_are_unit_norm_and_finite_even_without_any_wearable(trained):
    aligner, windows, _ = trained
    test = windows["test"].subset(np.arange(40))
    x = test.x.copy()
    x[:10][:, :, WEARABLE_INDEX] = np.nan  # every wearable day missing
    x[10:20] = np.nan  # nothing at all
    x[20:30][:, :, TARGET_INDEX] = np.nan  # no self-report
    x[30:35][:, :, WEARABLE_INDEX] = 5.0  # one constant reading every day
    gappy = Windows(test.keys, test.origin, x, test.y)
    for embed in (aligner.embed_wearables, aligner.embed_symptoms):
        e = embed(gappy)
        assert e.shape == (len(gappy), SETTINGS.embedding_dim)
        assert np.isfinite(e).all()
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    empty = windows["test"].subset(np.array([], dtype=int))
    assert aligner.embed_wearables(empty).shape == (0, SETTINGS.embedding_dim)


def test_a_windows_level_does_not_reach_its_embedding(trained):
    """Per-window standardization: shifting a window's wearables (a patient with a higher
    resting heart rate, more steps) or its self-reports, or stretching a signal, leaves
    the embeddings unchanged; reordering its days does not."""
    aligner, windows, _ = trained
    test = windows["test"].subset(np.arange(0, len(windows["test"]), 7))
    x = test.x.copy()
    shift = np.zeros(x.shape[2], np.float32)
    shift[WEARABLE_INDEX] = [12.0, -8.0, 1.5, 3000.0]
    shift[TARGET_INDEX] = [6.0, -3.0, 2.0]
    moved = Windows(test.keys, test.origin, x + shift, test.y)
    stretched = x.copy()
    stretched[:, :, WEARABLE_INDEX[3]] *= 1.7  # steps
    stretched = Windows(test.keys, test.origin, stretched, test.y)
    reversed_days = Windows(test.keys, test.origin, x[:, ::-1].copy(), test.y)
    for embed in (aligner.embed_wearables, aligner.embed_symptoms):
        base = embed(test)
        np.testing.assert_allclose(embed(moved), base, atol=2e-4)
        np.testing.assert_allclose(embed(stretched), base, atol=2e-4)
        assert np.abs(embed(reversed_days) - base).max() > 0.1


def test_save_then_load_gives_identical_embeddings(trained, tmp_path):
    aligner, windows, _ = trained
    aligner.save(tmp_path / "aligner")
    loaded = A.Aligner.load(tmp_path / "aligner")
    test = windows["test"]
    np.testing.assert_array_equal(loaded.embed_wearables(test), aligner.embed_wearables(test))
    np.testing.assert_array_equal(loaded.embed_symptoms(test), aligner.embed_symptoms(test))
    assert loaded.settings == aligner.settings
    assert loaded.epochs_run == aligner.epochs_run
    assert loaded.training_seconds == aligner.training_seconds
    np.testing.assert_array_equal(loaded.scaling.mean, aligner.scaling.mean)


def test_info_nce_does_not_count_a_patients_overlapping_window_as_a_negative():
    """Rows 0 and 1: the same patient two days apart; with the mask, the symptom window of
    row 1 (identical to row 0's here) no longer competes with row 0's positive."""
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scale = torch.tensor(10.0)
    plain = A.info_nce(e, e, scale)
    masked = A.info_nce(e, e, scale, torch.tensor([5, 5, 6]).long(), torch.tensor([100, 102, 100]))
    far = A.info_nce(e, e, scale, torch.tensor([5, 5, 6]).long(), torch.tensor([100, 200, 100]))
    assert float(masked) < 0.01 < float(plain)
    assert float(far) == pytest.approx(float(plain))


def test_aligned_ridge_appends_both_embeddings_to_the_ridge_design(trained):
    """(Its fit is the ridge's own; its held-out accuracy is measured outside the unit
    tests: a fit on ~7,000 windows × 457 features takes ~10 s.)"""
    aligner, windows, scaling = trained
    plain = A.RidgeForecaster(scaling)
    aligned = A.AlignedRidge(scaling, aligner)
    sample = windows["test"].subset(np.arange(50))
    base, design = plain._design(sample), aligned._design(sample)
    assert design.shape[1] == base.shape[1] + 2 * SETTINGS.embedding_dim
    np.testing.assert_array_equal(design[:, : base.shape[1] - 1], base[:, :-1])
    np.testing.assert_array_equal(design[:, -1], 1.0)  # the unpenalized intercept stays last
