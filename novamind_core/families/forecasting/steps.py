"""The forecaster's pipeline steps with file inputs and outputs: what its components run.

Every step reads what earlier steps wrote (paths, through the toolkit's typed artifact
I/O), writes its own outputs, and returns a small dict of figures for KFP's metrics and
MLflow (see ``infrastructure.kfp.step_runner``). The run's settings arrive as ``target``,
``horizon`` and ``seed``: the same ``ForecastSpec`` is rebuilt from them in every step.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from novamind_core.families.forecasting import training
from novamind_core.families.forecasting.family import MODEL_NAME
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.families.forecasting.split import SplitPlan
from novamind_core.infrastructure.kfp.artifacts import (
    read_frame,
    read_json,
    write_frame,
    write_json,
)

log = logging.getLogger(__name__)
TABLES = ("patients", "symptom_observations", "biometrics")  # what the pipeline validates


def run_params(target: str, horizon: int, seed: int) -> dict:
    """The parameters of a run, as logged on its MLflow run."""
    return ForecastSpec.for_run(target, horizon, seed).to_dict()


def impute(dataset_version: str, target: str, horizon: int, seed: int, grid: Path) -> dict:
    from novamind_core.infrastructure import composition

    spec = ForecastSpec.for_run(target, horizon, seed)
    store = composition.dataset_store()
    version = store.manifest(dataset_version)["version"]
    observations = store.read(version, "symptom_observations")
    biometrics = store.read(version, "biometrics")
    composition.audit_trail().record("read", version, purpose="train symptom-forecaster: impute")
    frame, fill_values, stats = training.impute(observations, biometrics, spec)
    write_frame(grid, "grid", frame)
    write_json(grid / "fill_values.json", fill_values)
    return stats


def load_grid(grid: Path) -> tuple[pd.DataFrame, dict]:
    return read_frame(grid, "grid"), read_json(grid / "fill_values.json")


def split(grid: Path, target: str, horizon: int, seed: int, plan: Path) -> dict:
    spec = ForecastSpec.for_run(target, horizon, seed)
    frame, _ = load_grid(grid)
    split_plan = training.split(frame, spec)
    write_json(plan, split_plan.to_dict(), sensitive=True)  # the held-out patients
    prepared = training.prepare(frame, split_plan, spec)
    counts = {f"windows_{k}": len(v) for k, v in prepared.windows.items()}
    counts["held_out_patients"] = len(split_plan.held_out_patients)
    return counts


def load_plan(plan: Path) -> SplitPlan:
    data = read_json(plan, sensitive=True)
    return SplitPlan(
        pd.Timestamp(data["validation_start"]),
        pd.Timestamp(data["test_start"]),
        frozenset(data["held_out_patients"]),
    )


def _prepared(grid: Path, plan: Path, spec: ForecastSpec):
    frame, fill = load_grid(grid)
    return training.prepare(frame, load_plan(plan), spec), fill


def train_transformer(
    grid: Path,
    plan: Path,
    target: str,
    horizon: int,
    seed: int,
    epochs: int,
    encoder_layers: int,
    decoder_layers: int,
    model: Path,
) -> dict:
    import torch

    spec = ForecastSpec.for_run(target, horizon, seed)
    prepared, _ = _prepared(grid, plan, spec)
    config, network, stats = training.train_transformer(
        prepared, spec, epochs, encoder_layers, decoder_layers
    )
    model.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), model / "transformer.pt")
    write_json(model / "config.json", config.__dict__)
    return stats


def tune_xgboost(
    grid: Path,
    plan: Path,
    target: str,
    horizon: int,
    seed: int,
    trials: int,
    optuna_storage: str,
    study_name: str,
    model: Path,
) -> dict:
    """Optuna TPE search, then one model per horizon; a shared study (``optuna_storage``)
    is named ``study_name`` (default: one per step run)."""
    from novamind_core.infrastructure.registry.tracking import active_run_id

    spec = ForecastSpec.for_run(target, horizon, seed)
    prepared, _ = _prepared(grid, plan, spec)
    study = study_name or f"{MODEL_NAME}-{active_run_id()}"
    params, models, importance, stats = training.tune_xgboost(
        prepared, spec, trials, optuna_storage or None, study
    )
    model.mkdir(parents=True, exist_ok=True)
    for h, booster in enumerate(models):
        booster.save_model(model / f"xgboost_h{h + 1}.json")
    write_json(model / "best_params.json", params, indent=2)
    write_json(model / "feature_importance.json", importance, indent=2)
    return {**stats, **{f"param_{k}": v for k, v in params.items()}}


def fit_ensemble(
    grid: Path,
    plan: Path,
    target: str,
    horizon: int,
    seed: int,
    transformer: Path,
    xgboost: Path,
    use_ensemble: bool,
    transformer_precision: str,
    bundle: Path,
) -> dict:
    import torch
    import xgboost as xgb

    from novamind_core.families.forecasting.transformer import (
        QuantileTransformer,
        TransformerConfig,
    )

    spec = ForecastSpec.for_run(target, horizon, seed)
    prepared, fill = _prepared(grid, plan, spec)
    config = TransformerConfig(**read_json(transformer / "config.json"))
    network = QuantileTransformer(config)
    network.load_state_dict(torch.load(transformer / "transformer.pt", weights_only=True))
    network.eval()
    models = []
    for h in range(spec.horizon):
        booster = xgb.XGBRegressor()
        booster.load_model(xgboost / f"xgboost_h{h + 1}.json")
        models.append(booster)
    fitted = training.fit_ensemble(
        prepared, spec, fill, config, network, models, use_ensemble, transformer_precision
    )
    fitted.save(bundle)
    importance = xgboost / "feature_importance.json"
    if importance.exists():
        (bundle / "feature_importance.json").write_text(importance.read_text())
    weights = fitted.calibration.weights
    return {
        "weight_transformer_mean": float(weights[:, 0].mean()),
        "weight_xgboost_mean": float(weights[:, 1].mean()),
        "interval_width_mean": float(
            (fitted.calibration.upper_offset - fitted.calibration.lower_offset).mean()
        ),
    }


def _champion():
    """The bundle of the current champion, for comparison; None without a readable one."""
    from novamind_core.domain.model_registry import CHAMPION
    from novamind_core.infrastructure.registry.model_registry import load_alias

    try:
        champion = load_alias(MODEL_NAME, CHAMPION)
    except Exception as exc:  # an unreadable champion is reported, not fatal
        log.warning(
            "champion could not be loaded for comparison (%s: %s); evaluating without it",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return None
    return None if champion is None else champion.bundle


def evaluate(
    grid: Path,
    plan: Path,
    target: str,
    horizon: int,
    seed: int,
    bundle: Path,
    evaluation: Path,
    charts: Path,
    validation_passed: bool = True,
) -> dict:
    """Per-horizon metrics against the baselines and the champion, the gates, fan charts.
    ``validation_passed``: the pipeline runs this step only after validate succeeded."""
    from novamind_core.families.forecasting.bundle import ForecasterBundle

    spec = ForecastSpec.for_run(target, horizon, seed)
    prepared, _ = _prepared(grid, plan, spec)
    candidate = ForecasterBundle.load(bundle)
    champion = _champion()
    if champion is not None and champion.spec.horizon != spec.horizon:
        champion = None
    result = training.evaluate(candidate, prepared, spec, champion)
    gate_results = training.gates(result, validation_passed)
    write_json(evaluation, {"evaluation": result, "gates": gate_results}, indent=2)
    fan_charts(candidate, prepared, charts)
    figures = {f"gate_{k}": float(v) for k, v in gate_results.items()}
    for part, outcome in result.items():
        for model, metrics in outcome["models"].items():
            figures[f"{part}_{model}_mase_mean"] = float(np.nanmean(metrics["mase"]))
            if "coverage" in metrics:
                figures[f"{part}_{model}_coverage_mean"] = float(np.nanmean(metrics["coverage"]))
    return figures


def fan_charts(bundle, prepared, charts_dir: Path, count: int = 4) -> list[Path]:
    """History, median forecast and 80% interval for a few held-out (or test) windows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = (
        prepared.windows["heldout"]
        if len(prepared.windows["heldout"])
        else (prepared.windows["test"])
    )
    charts_dir.mkdir(parents=True, exist_ok=True)
    picks = np.linspace(0, len(w) - 1, num=min(count, len(w))).astype(int)
    f = bundle.forecast(w.subset(picks))
    paths = []
    for n, i in enumerate(picks):
        fig, ax = plt.subplots(figsize=(7, 3))
        past = np.arange(-w.history.shape[1] + 1, 1)
        seen = w.history_observed[i] > 0
        ax.plot(past[seen], w.history[i][seen], "o", ms=3, color="0.3", label="observed")
        ahead = np.arange(1, bundle.spec.horizon + 1)
        ax.fill_between(ahead, f.lower[n], f.upper[n], alpha=0.3, label="80% interval")
        ax.plot(ahead, f.median[n], "-", label="median forecast")
        actual = w.target_observed[i] > 0
        ax.plot(ahead[actual], w.target[i][actual], "x", color="k", label="actual")
        ax.set_xlabel("days from forecast origin")
        ax.set_ylabel(bundle.spec.target)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = charts_dir / f"fan_chart_{n + 1}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def build_reference(
    grid: Path, plan: Path, target: str, horizon: int, seed: int, bundle: Path, reference: Path
) -> dict:
    """The drift reference: monitored features and forecasts at sampled training origins."""
    from novamind_core.families.forecasting.bundle import ForecasterBundle
    from novamind_core.families.forecasting.drift import build_reference as reference_frame
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.monitoring.drift_reference import write_reference

    frame, _ = load_grid(grid)
    fitted = ForecasterBundle.load(bundle)
    table = reference_frame(fitted, frame, load_plan(plan), seed=seed)
    write_reference(table, reference, composition.settings().require_encryption_key())
    stats = {"reference_rows": len(table)}
    for column in table.columns:
        stats[f"reference_{column}_observed_share"] = float(table[column].notna().mean())
    return stats
