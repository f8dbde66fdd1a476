"""Pipeline steps with file inputs and outputs: what each KFP component runs.

Every step reads what earlier steps wrote (paths), writes its own outputs, and returns
a small dict of figures for KFP's metrics and MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from novamind_core.domain.errors import ValidationError
from novamind_core.infrastructure.forecasting import training
from novamind_core.infrastructure.forecasting.spec import ForecastSpec
from novamind_core.infrastructure.forecasting.split import SplitPlan

log = logging.getLogger(__name__)
FORECAST_TABLES = ("patients", "symptom_observations", "biometrics")


def _store_and_audit():
    from novamind_core.infrastructure.observability.audit_trail import HashChainAuditTrail
    from novamind_core.infrastructure.settings import get_settings
    from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore

    settings = get_settings()
    store = EncryptedDatasetStore(settings.store_dir, settings.require_encryption_key())
    return store, HashChainAuditTrail(settings.audit_log_path)


def validate_step(dataset_version: str, report_path: Path) -> dict:
    """Integrity and contract checks of the stored tables the forecaster reads."""
    from novamind_core.infrastructure.validation.feature_specs import load_specs, stored_spec
    from novamind_core.infrastructure.validation.gx_validator import (
        GreatExpectationsValidator,
    )

    store, audit = _store_and_audit()
    manifest = store.manifest(dataset_version)
    version = manifest["version"]
    tables = {name: store.read(version, name) for name in FORECAST_TABLES}
    audit.record("read", version, purpose="train symptom-forecaster: validate")
    specs = {
        name: stored_spec(spec) for name, spec in load_specs().items() if name in FORECAST_TABLES
    }
    report, _ = GreatExpectationsValidator(specs).validate(tables)
    failures = [
        {
            "table": f.table,
            "column": f.column,
            "expectation": f.expectation,
            "failing": f.failing_count,
            "detail": f.detail,
        }
        for f in report.failures
    ]
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(
        json.dumps(
            {"version": version, "success": report.success, "failures": failures},
            indent=2,
            default=str,
        )
    )
    if not report.success:
        raise ValidationError(
            f"dataset {version} failed validation ({len(failures)} expectations): "
            + "; ".join(f"{f['table']}.{f['column']}: {f['expectation']}" for f in failures[:5])
        )
    return {
        "version": version,
        "fingerprint": manifest["fingerprint"],
        "expectations": report.expectations_evaluated,
        "rows": report.row_counts,
    }


def impute_step(dataset_version: str, spec: ForecastSpec, out_dir: Path) -> dict:
    store, audit = _store_and_audit()
    version = store.manifest(dataset_version)["version"]
    observations = store.read(version, "symptom_observations")
    biometrics = store.read(version, "biometrics")
    audit.record("read", version, purpose="train symptom-forecaster: impute")
    grid, fill_values, stats = training.impute(observations, biometrics, spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid.to_parquet(out_dir / "grid.parquet", index=False)
    (out_dir / "fill_values.json").write_text(json.dumps(fill_values))
    return stats


def load_grid(grid_dir: Path) -> tuple[pd.DataFrame, dict]:
    grid = pd.read_parquet(grid_dir / "grid.parquet")
    return grid, json.loads((grid_dir / "fill_values.json").read_text())


def split_step(grid_dir: Path, spec: ForecastSpec, plan_path: Path) -> dict:
    grid, _ = load_grid(grid_dir)
    plan = training.split(grid, spec)
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(json.dumps(plan.to_dict()))
    prepared = training.prepare(grid, plan, spec)
    counts = {f"windows_{k}": len(v) for k, v in prepared.windows.items()}
    counts["held_out_patients"] = len(plan.held_out_patients)
    return counts


def load_plan(plan_path: Path) -> SplitPlan:
    data = json.loads(plan_path.read_text())
    return SplitPlan(
        pd.Timestamp(data["validation_start"]),
        pd.Timestamp(data["test_start"]),
        frozenset(data["held_out_patients"]),
    )


def _prepared(grid_dir: Path, plan_path: Path, spec: ForecastSpec):
    grid, fill = load_grid(grid_dir)
    return training.prepare(grid, load_plan(plan_path), spec), fill


def train_transformer_step(
    grid_dir, plan_path, spec, epochs, encoder_layers, decoder_layers, out_dir: Path
) -> dict:
    import torch

    prepared, _ = _prepared(grid_dir, plan_path, spec)
    config, model, stats = training.train_transformer(
        prepared, spec, epochs, encoder_layers, decoder_layers
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / "transformer.pt")
    (out_dir / "config.json").write_text(json.dumps(config.__dict__))
    return stats


def tune_xgboost_step(grid_dir, plan_path, spec, trials, storage, study_name, out_dir) -> dict:
    prepared, _ = _prepared(grid_dir, plan_path, spec)
    params, models, importance, stats = training.tune_xgboost(
        prepared, spec, trials, storage or None, study_name
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for h, model in enumerate(models):
        model.save_model(out_dir / f"xgboost_h{h + 1}.json")
    (out_dir / "best_params.json").write_text(json.dumps(params, indent=2))
    (out_dir / "feature_importance.json").write_text(json.dumps(importance, indent=2))
    return {**stats, **{f"param_{k}": v for k, v in params.items()}}


def fit_ensemble_step(
    grid_dir,
    plan_path,
    spec,
    transformer_dir,
    xgboost_dir,
    use_ensemble,
    out_dir: Path,
    precision: str = "float32",
) -> dict:
    import torch
    import xgboost as xgb

    from novamind_core.infrastructure.forecasting.transformer import (
        QuantileTransformer,
        TransformerConfig,
    )

    prepared, fill = _prepared(grid_dir, plan_path, spec)
    config = TransformerConfig(**json.loads((transformer_dir / "config.json").read_text()))
    model = QuantileTransformer(config)
    model.load_state_dict(torch.load(transformer_dir / "transformer.pt", weights_only=True))
    model.eval()
    models = []
    for h in range(spec.horizon):
        booster = xgb.XGBRegressor()
        booster.load_model(xgboost_dir / f"xgboost_h{h + 1}.json")
        models.append(booster)
    bundle = training.fit_ensemble(
        prepared, spec, fill, config, model, models, use_ensemble, precision
    )
    bundle.save(out_dir)
    importance = xgboost_dir / "feature_importance.json"
    if importance.exists():
        (out_dir / "feature_importance.json").write_text(importance.read_text())
    weights = bundle.calibration.weights
    return {
        "weight_transformer_mean": float(weights[:, 0].mean()),
        "weight_xgboost_mean": float(weights[:, 1].mean()),
        "interval_width_mean": float(
            (bundle.calibration.upper_offset - bundle.calibration.lower_offset).mean()
        ),
    }


def evaluate_step(
    grid_dir,
    plan_path,
    spec,
    bundle_dir: Path,
    evaluation_path: Path,
    charts_dir: Path,
    validation_passed: bool,
) -> dict:
    from novamind_core.infrastructure.forecasting.bundle import ForecasterBundle
    from novamind_core.infrastructure.registry.model_registry import CHAMPION, load_alias

    prepared, _ = _prepared(grid_dir, plan_path, spec)
    bundle = ForecasterBundle.load(bundle_dir)
    champion = None
    try:
        champion = load_alias("symptom-forecaster", CHAMPION)
    except Exception as exc:  # an unreadable champion is reported, not fatal
        log.warning(
            "champion could not be loaded for comparison (%s: %s); evaluating without it",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
    if champion is not None and champion.spec.horizon != spec.horizon:
        champion = None
    evaluation = training.evaluate(bundle, prepared, spec, champion)
    gate_results = training.gates(evaluation, validation_passed)
    evaluation_path.parent.mkdir(parents=True, exist_ok=True)
    evaluation_path.write_text(
        json.dumps({"evaluation": evaluation, "gates": gate_results}, indent=2)
    )
    fan_charts(bundle, prepared, charts_dir)
    figures = {f"gate_{k}": float(v) for k, v in gate_results.items()}
    for part, result in evaluation.items():
        for model, metrics in result["models"].items():
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


def build_reference_step(grid_dir, plan_path, spec, bundle_dir: Path, out_dir: Path) -> dict:
    """The drift reference: monitored features and forecasts at sampled training origins."""
    from novamind_core.infrastructure.forecasting.bundle import ForecasterBundle
    from novamind_core.infrastructure.monitoring.drift_reference import (
        build_reference,
        write_reference,
    )
    from novamind_core.infrastructure.settings import get_settings

    grid, _ = load_grid(grid_dir)
    bundle = ForecasterBundle.load(bundle_dir)
    frame = build_reference(bundle, grid, load_plan(plan_path), seed=spec.seed)
    write_reference(frame, out_dir, get_settings().require_encryption_key())
    stats = {"reference_rows": len(frame)}
    for column in frame.columns:
        stats[f"reference_{column}_observed_share"] = float(frame[column].notna().mean())
    return stats


def register_step(
    bundle_dir: Path,
    evaluation_path: Path,
    charts_dir: Path,
    version: str,
    fingerprint: str,
    parent_run_id: str,
    reference_dir: Path | None = None,
) -> dict:
    from novamind_core.infrastructure.registry.model_registry import (
        register_symptom_forecaster,
    )

    data = json.loads(evaluation_path.read_text())
    return register_symptom_forecaster(
        bundle_dir,
        data["evaluation"],
        data["gates"],
        {"version": version, "fingerprint": fingerprint},
        parent_run_id,
        charts_dir,
        reference_dir=reference_dir,
    )
