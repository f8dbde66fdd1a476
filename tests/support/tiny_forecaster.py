"""A small trained symptom forecaster for tests that need a real model quickly (~15 s)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from novamind_core.application.deidentify import deidentify
from novamind_core.families.forecasting import training
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate


def train_tiny_bundle(
    out: Path, key: bytes, patients: int = 60, seed: int = 4, layers: int = 1, trials: int = 2
):
    """Train, calibrate and save a bundle; return (bundle, evaluation, de-identified tables).

    One epoch on a small cohort. ``layers``/``trials`` default to a 1-layer Transformer and
    two Optuna trials (fast); a benchmark of serving passes the pipeline's 2 and 8 so the
    served model has the production architecture."""
    cohort = generate(CohortConfig(patients=patients, days=150, seed=seed))
    tables = deidentify(cohort.tables, HmacPseudonymizer(key), date(2025, 12, 31))
    spec = ForecastSpec()
    grid, fill, _ = training.impute(tables["symptom_observations"], tables["biometrics"], spec)
    prepared = training.prepare(grid, training.split(grid, spec), spec)
    config, model, _ = training.train_transformer(
        prepared, spec, epochs=1, encoder_layers=layers, decoder_layers=layers
    )
    _, xgb_models, _, _ = training.tune_xgboost(prepared, spec, trials, None, "tiny")
    bundle = training.fit_ensemble(prepared, spec, fill, config, model, xgb_models, True)
    evaluation = training.evaluate(bundle, prepared, spec, with_ets=False)
    bundle.save(out)
    return bundle, evaluation, tables
