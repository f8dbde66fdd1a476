"""The steps of the symptom forecasting pipeline, as plain functions on plain data.

KFP components are thin wrappers around these; tests call them directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from novamind_core.families.forecasting import (
    baselines,
    ensemble,
    gradient_boosting,
    transformer,
)
from novamind_core.families.forecasting.bundle import ForecasterBundle
from novamind_core.families.forecasting.imputation import (
    BIOMETRICS,
    KEY,
    SYMPTOMS,
    build_daily_grid,
    daily_means,
)
from novamind_core.families.forecasting.metrics import horizon_metrics, seasonal_scale
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.families.forecasting.split import SplitPlan, assign_origins, plan_split
from novamind_core.families.forecasting.windows import (
    Scaler,
    Windows,
    feature_columns,
    make_windows,
)

log = logging.getLogger(__name__)
WINDOWS = ("train", "validation", "test", "heldout")


def validation_cutoff(last_day: pd.Timestamp, spec: ForecastSpec) -> pd.Timestamp:
    return last_day - pd.Timedelta(days=spec.test_days - 1 + spec.validation_days)


def impute(observations: pd.DataFrame, biometrics: pd.DataFrame, spec: ForecastSpec):
    """Daily grid; fill values for pre-first-observation days come from training days only."""
    if observations.empty:
        raise ValueError("the dataset has no symptom observations")
    if observations[spec.target].notna().sum() == 0:
        raise ValueError(f"instrument {spec.target} is missing for every patient")
    last = observations["recorded_at"].max().normalize()
    cutoff = validation_cutoff(last, spec)
    before = daily_means(observations[observations["recorded_at"] < cutoff], SYMPTOMS).join(
        daily_means(biometrics[biometrics["recorded_at"] < cutoff], BIOMETRICS), how="outer"
    )
    if before.empty:
        raise ValueError(
            f"no data before the validation window ({cutoff:%Y-%m-%d}): the dataset spans too "
            "few days for the requested validation and test windows"
        )
    fill_values = {c: float(before[c].mean()) for c in before.columns}
    grid = build_daily_grid(observations, biometrics, fill_values)
    target_counts = (
        observations.groupby(KEY)[spec.target].count().reindex(grid[KEY].unique(), fill_value=0)
    )
    too_short = sorted(set(target_counts[target_counts < 2].index))
    grid = grid[~grid[KEY].isin(too_short)]
    stats = {
        "patients": int(grid[KEY].nunique()),
        "patients_excluded_too_few_reports": len(too_short),
        "patient_days": len(grid),
        f"{spec.target}_observed_share": float(grid[f"{spec.target}_observed"].mean()),
    }
    return grid.reset_index(drop=True), fill_values, stats


def split(grid: pd.DataFrame, spec: ForecastSpec) -> SplitPlan:
    return plan_split(grid, spec.validation_days, spec.test_days, spec.held_out_share, spec.seed)


@dataclass
class Prepared:
    scaler: Scaler
    windows: dict[str, Windows]


def prepare(grid: pd.DataFrame, plan: SplitPlan, spec: ForecastSpec) -> Prepared:
    """Scaler fitted on training rows; windows labelled train/validation/test/heldout."""
    grid = grid.assign(
        dow_sin=np.sin(2 * np.pi * grid["day_of_week"] / 7),
        dow_cos=np.cos(2 * np.pi * grid["day_of_week"] / 7),
    )
    training_rows = grid[
        (~grid[KEY].isin(plan.held_out_patients)) & (grid["day"] < plan.validation_start)
    ]
    scaler = Scaler.fit(training_rows, feature_columns(spec.target))
    w = make_windows(grid, spec.target, scaler, spec.context_days, spec.horizon, spec.stride)
    labels = assign_origins(pd.DataFrame({KEY: w.keys, "day": w.origin}), spec.horizon, plan)
    windows = {name: w.subset((labels == name).to_numpy()) for name in WINDOWS}
    train = windows["train"]
    if len(train) > spec.max_train_windows:
        rng = np.random.default_rng(spec.seed)
        keep = np.sort(rng.choice(len(train), spec.max_train_windows, replace=False))
        windows["train"] = train.subset(keep)
    for name in ("train", "validation"):
        if len(windows[name]) == 0:
            raise ValueError(f"no {name} windows: the dataset is too short for the split")
    return Prepared(scaler, windows)


def _transformer_arrays(w: Windows, scaler: Scaler, target: str):
    mean, std = scaler.mean[target], scaler.std[target]
    return (
        w.context,
        (w.history[:, -1] - mean) / std,
        (w.target - mean) / std,
        w.target_observed,
        w.future_dow,
    )


def train_transformer(
    prepared: Prepared,
    spec: ForecastSpec,
    epochs: int,
    encoder_layers: int,
    decoder_layers: int,
    n_heads: int = 8,
    d_model: int = 64,
):
    config = transformer.TransformerConfig(
        n_features=prepared.windows["train"].context.shape[2],
        context_days=spec.context_days,
        horizon=spec.horizon,
        d_model=d_model,
        n_heads=n_heads,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
    )
    model, stats = transformer.train(
        config,
        _transformer_arrays(prepared.windows["train"], prepared.scaler, spec.target),
        _transformer_arrays(prepared.windows["validation"], prepared.scaler, spec.target),
        epochs=epochs,
        seed=spec.seed,
    )
    return config, model, stats


def tune_xgboost(
    prepared: Prepared, spec: ForecastSpec, trials: int, storage: str | None, study_name: str
):
    w = prepared.windows["train"]
    x = gradient_boosting.tabular(w)
    study = gradient_boosting.tune(
        x, w.target, w.origin.astype("int64"), trials, spec.seed, storage, study_name
    )
    completed = [t for t in study.trials if t.value is not None]
    if not completed:
        raise RuntimeError("every Optuna trial was pruned or failed; raise --param trials")
    models = gradient_boosting.fit_per_horizon(
        x, w.target, w.target_observed, study.best_params, spec.seed
    )
    names = gradient_boosting.feature_names(feature_columns(spec.target))
    stats = {
        "best_cv_mae": float(study.best_value),
        "trials_completed": len(completed),
        "trials_pruned": sum(t.state.name == "PRUNED" for t in study.trials),
    }
    return study.best_params, models, gradient_boosting.importance(models, names), stats


def fit_ensemble(
    prepared,
    spec,
    scaler_fill,
    config,
    model,
    xgb_models,
    use_ensemble: bool,
    precision: str = "float32",
):
    """Weights and conformal offsets on the validation window; returns the full bundle.

    With a 16-bit ``precision`` the Transformer is quantized first, so that the weights
    and intervals are fitted to the model that will actually serve.
    """
    model = transformer.with_precision(model, precision)
    placeholder = ensemble.EnsembleCalibration(
        np.tile([1.0, 0.0], (spec.horizon, 1)), np.zeros(spec.horizon), np.zeros(spec.horizon)
    )
    bundle = ForecasterBundle(
        spec, prepared.scaler, scaler_fill, config, model, xgb_models, placeholder
    )
    w = prepared.windows["validation"]
    raw = bundle.forecast(w)
    bundle.calibration = ensemble.calibrate(
        raw.transformer_median,
        raw.xgboost,
        w.target,
        w.target_observed,
        use_ensemble,
        round_median=spec.round_median,
    )
    return bundle


def evaluate(
    bundle: ForecasterBundle,
    prepared: Prepared,
    spec: ForecastSpec,
    champion: ForecasterBundle | None = None,
    with_ets: bool = True,
) -> dict:
    """Per-horizon metrics of every model and baseline on test and held-out windows."""
    low, high = spec.score_range

    def point(values: np.ndarray) -> np.ndarray:
        """Every model's point forecast under the ensemble's rule (whole numbers or not),
        so that the comparison is like for like."""
        return np.round(values) if bundle.calibration.round_median else values

    results: dict[str, dict] = {}
    for name in ("test", "heldout"):
        w = prepared.windows[name]
        if len(w) == 0:
            continue
        scale = seasonal_scale(w.history, w.history_observed)
        f = bundle.forecast(w)
        tq = np.clip(bundle.transformer_quantiles(w), low, high)
        rows = {
            "ensemble": horizon_metrics(
                w.target, w.target_observed, f.median, scale, f.lower, f.upper
            ),
            "transformer": horizon_metrics(
                w.target, w.target_observed, point(tq[..., 1]), scale, tq[..., 0], tq[..., 2]
            ),
            "xgboost": horizon_metrics(
                w.target, w.target_observed, point(np.clip(f.xgboost, low, high)), scale
            ),
            "last_value": horizon_metrics(
                w.target, w.target_observed, baselines.last_value(w.history, spec.horizon), scale
            ),
            "seasonal_naive": horizon_metrics(
                w.target,
                w.target_observed,
                baselines.seasonal_naive(w.history, spec.horizon),
                scale,
            ),
        }
        if with_ets:
            ets = point(np.clip(baselines.auto_ets(w.history, spec.horizon), low, high))
            rows["auto_ets"] = horizon_metrics(w.target, w.target_observed, ets, scale)
        if champion is not None:
            c = champion.forecast(w)
            rows["champion"] = horizon_metrics(
                w.target, w.target_observed, c.median, scale, c.lower, c.upper
            )
        results[name] = {"windows": len(w), "scale": scale, "models": rows}
    return results


def gates(
    evaluation: dict, validation_passed: bool, coverage: float = 0.8, tolerance: float = 0.05
) -> dict[str, bool]:
    """The promotion gates: MASE below seasonal naive everywhere, calibrated, valid data."""
    beats, covered = True, []
    for part in evaluation.values():
        models = part["models"]
        ours, naive = models["ensemble"]["mase"], models["seasonal_naive"]["mase"]
        beats &= all(o < n for o, n in zip(ours, naive, strict=True))
        covered += models["ensemble"]["coverage"]
    mean_cov = float(np.nanmean(covered)) if covered else float("nan")
    return {
        "beats_seasonal_naive_mase_every_horizon": bool(beats and evaluation),
        "interval_coverage_within_5_points": bool(abs(mean_cov - coverage) <= tolerance),
        "data_validation_passed": bool(validation_passed),
    }
