"""Held-out accuracy of the symptom predictors: MAE and MASE per horizon and symptom,
interval calibration where a model gives one, and the plain verdict of who beats whom.

MASE's scale for a symptom is its in-sample naive error over the training patients: the
mean absolute change between consecutive observed scores of a patient (for weekly
questionnaires, one report to the next). A MASE below 1 beats that naive step.
"""

from __future__ import annotations

import numpy as np

from novamind_core.domain.forecast_accuracy import horizon_metrics
from novamind_core.families.biometric.alignment import AlignedCohort
from novamind_core.families.biometric.prediction_windows import TARGETS, Windows
from novamind_core.families.biometric.predictor_baselines import Forecast
from novamind_core.families.biometric.signals import SIGNALS

BASELINES = ("last_value", "seasonal_naive")


def naive_scales(cohort: AlignedCohort) -> np.ndarray:
    """(S,) mean |change| between a patient's consecutive observed scores, per symptom."""
    out = []
    for name in TARGETS:
        values = cohort.values[:, SIGNALS.index(name), :]
        changes = []
        for row in values:
            seen = row[~np.isnan(row)]
            changes.append(np.abs(np.diff(seen)))
        joined = np.concatenate(changes) if changes else np.array([])
        if len(joined) == 0:
            raise ValueError(f"no patient has two {name} scores: MASE is undefined")
        out.append(float(joined.mean()))
    return np.asarray(out)


def evaluate(forecast: Forecast, windows: Windows, scales: np.ndarray) -> dict:
    """Per symptom: ``horizon_metrics`` (mae, mase, n, and with an interval pinball,
    coverage of the 80% interval, width), plus the mean MASE over horizons."""
    out = {}
    observed = windows.observed
    target = np.nan_to_num(windows.y)
    for s, name in enumerate(TARGETS):
        lower = forecast.lower[:, :, s] if forecast.lower is not None else None
        upper = forecast.upper[:, :, s] if forecast.upper is not None else None
        metrics = horizon_metrics(
            target[:, :, s], observed[:, :, s], forecast.median[:, :, s], scales[s], lower, upper
        )
        metrics["mean_mase"] = float(np.nanmean(metrics["mase"]))
        metrics["mean_mae"] = float(np.nanmean(metrics["mae"]))
        out[name] = metrics
    out["mean_mase"] = float(np.mean([out[n]["mean_mase"] for n in TARGETS]))
    return out


def comparison(results: dict[str, dict]) -> dict:
    """Which models beat which baseline, per symptom (mean MASE over horizons, lower is
    better), and overall."""
    out = {}
    for model, metrics in results.items():
        if model in BASELINES:
            continue
        out[model] = {
            baseline: {
                **{
                    name: bool(metrics[name]["mean_mase"] < results[baseline][name]["mean_mase"])
                    for name in TARGETS
                },
                "overall": bool(metrics["mean_mase"] < results[baseline]["mean_mase"]),
            }
            for baseline in (*BASELINES, "ridge")
            if baseline in results and baseline != model
        }
    return out


def beats_baselines(results: dict[str, dict], model: str) -> bool:
    """The model beats last value and seasonal naive on every symptom."""
    return all(
        results[model][name]["mean_mase"] < results[baseline][name]["mean_mase"]
        for baseline in BASELINES
        for name in TARGETS
    )


def verdict(results: dict[str, dict]) -> list[str]:
    """One plain sentence per model: what it beats and what it does not."""
    lines = []
    for model, wins in comparison(results).items():
        beaten = [b for b, w in wins.items() if w["overall"]]
        not_beaten = [b for b, w in wins.items() if not w["overall"]]
        line = f"{model}: mean MASE {results[model]['mean_mase']:.3f}"
        if beaten:
            line += f"; beats {', '.join(beaten)}"
        if not_beaten:
            line += f"; does not beat {', '.join(not_beaten)}"
        lines.append(line)
    return lines
