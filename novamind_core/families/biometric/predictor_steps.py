"""The symptom-predictor steps of the correlation pipeline: what its components run.

Every training step reads the aligned grid, cuts the same windows and the same patient
split (a seeded hash of the pseudonym: ``HELD_OUT_SHARE`` of the patients each to
validation and test) and writes its model folder and a report: accuracy on the
validation and the held-out test patients, training time, epochs, peak memory of its
process. ``evaluate_step`` adds the baselines on the same windows, compares, selects the
served predictor on the *validation* patients and applies the gates on the *test*
patients. Only cohort-level figures leave a step; windows hold patient rows and stay in
the step's memory.
"""

from __future__ import annotations

import json
import logging
import resource
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from novamind_core.domain import patient_split
from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.alignment import AlignedCohort
from novamind_core.families.biometric.prediction_windows import (
    LOOKBACK,
    TARGETS,
    Scaling,
    Windows,
    windows_from,
)
from novamind_core.families.biometric.predictor_baselines import (
    Forecast,
    RidgeForecaster,
    last_value,
    seasonal_naive,
)
from novamind_core.families.biometric.predictor_evaluation import (
    beats_baselines,
    comparison,
    evaluate,
    naive_scales,
    verdict,
)
from novamind_core.infrastructure.kfp.artifacts import read_frame, read_json, write_json

log = logging.getLogger(__name__)
HELD_OUT_SHARE = 0.15
MIN_PATIENTS = 10  # per side of the split there must be someone
SERVABLE = ("bilstm", "tft")  # predict from daily histories and say which days mattered
ATTENTION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Prepared:
    windows: dict[str, Windows]  # train / validation / test
    scaling: Scaling
    scales: np.ndarray  # MASE scale per symptom (training patients)
    cohort: AlignedCohort


def prepare(grid: Path, seed: int) -> Prepared:
    """The grid → windows of each side of the patient split, scaling and MASE scales."""
    cohort = AlignedCohort.from_frame(read_frame(grid, "grid"))
    side = patient_split.assign(list(cohort.keys), HELD_OUT_SHARE, seed)
    rows = {
        name: np.array([i for i, k in enumerate(cohort.keys) if side[k] == name], dtype=int)
        for name in ("train", "validation", "test")
    }
    if len(rows["train"]) < MIN_PATIENTS:
        raise ValidationError(
            f"the predictors need at least {MIN_PATIENTS} training patients; the split left "
            f"{len(rows['train'])} of {len(cohort.keys)}"
        )
    windows = {name: windows_from(cohort.subset(r)) for name, r in rows.items()}
    for name, w in windows.items():
        if len(w) == 0:
            raise ValidationError(
                f"no {name} window with an observed symptom after {LOOKBACK} days of input"
            )
    train_cohort = cohort.subset(rows["train"])
    return Prepared(windows, Scaling.fit(windows["train"]), naive_scales(train_cohort), cohort)


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def attention_check(attention: np.ndarray) -> dict:
    """Every prediction's attention weights finite and summing to one over the days."""
    totals = attention.sum(axis=-1)
    return {
        "finite": bool(np.isfinite(attention).all()),
        "sums_to_one": bool(np.all(np.abs(totals - 1) <= ATTENTION_TOLERANCE)),
        "max_sum_error": float(np.abs(totals - 1).max()) if totals.size else 0.0,
    }


def accuracy(forecast: Forecast, windows: Windows, scales: np.ndarray) -> dict:
    if not all(
        np.isfinite(part).all()
        for part in (forecast.median, forecast.lower, forecast.upper)
        if part is not None
    ):
        raise ValueError("a model forecast NaN or infinity")
    return evaluate(forecast, windows, scales)


def write_report(report_dir: Path, name: str, report: dict) -> dict:
    report = {"model": name, "peak_rss_mib": peak_rss_mib(), **report}
    write_json(report_dir / "report.json", report, indent=2)
    return report


def headline(report: dict) -> dict:
    test = report["test"]
    return {
        "test_mean_mase": round(test["mean_mase"], 4),
        **{f"test_{s}_mase": round(test[s]["mean_mase"], 4) for s in TARGETS},
        "training_seconds": report["training_seconds"],
        "peak_rss_mib": report["peak_rss_mib"],
    }


# -- the training steps ----------------------------------------------------------------
def train_bilstm_step(grid: Path, seed: int, max_train_windows: int, model: Path, report: Path):
    from novamind_core.families.biometric import bilstm

    data = prepare(grid, seed)
    settings = bilstm.BiLstmSettings(seed=seed, **_limit(max_train_windows))
    predictor = bilstm.fit(
        data.windows["train"], data.windows["validation"], data.scaling, settings
    )
    predictor.save(model)
    out = {}
    for side in ("validation", "test"):
        forecast, attention, _ = predictor.forward(data.windows[side])
        out[side] = accuracy(forecast, data.windows[side], data.scales)
        if side == "test":
            out["attention"] = attention_check(attention)
            out["planted_lags"] = planted_lag_attention(attention, data.windows[side])
    result = write_report(
        report,
        "bilstm",
        {**out, "training_seconds": predictor.training_seconds, "epochs": predictor.epochs_run},
    )
    valid = out["attention"]["finite"] and out["attention"]["sums_to_one"]
    return {**headline(result), "attention_valid": float(valid)}


def train_tft_step(grid: Path, seed: int, max_train_windows: int, model: Path, report: Path):
    from novamind_core.families.biometric import tft

    data = prepare(grid, seed)
    settings = tft.TftSettings(seed=seed, **_limit(max_train_windows))
    predictor = tft.fit(data.windows["train"], data.windows["validation"], data.scaling, settings)
    predictor.save(model)
    out = {
        side: accuracy(predictor.predict(data.windows[side]), data.windows[side], data.scales)
        for side in ("validation", "test")
    }
    out["attention"] = attention_check(predictor.attention(data.windows["test"]))
    out["variable_importance"] = predictor.variable_importance()
    result = write_report(
        report,
        "tft",
        {**out, "training_seconds": predictor.training_seconds, "epochs": predictor.epochs_run},
    )
    return headline(result)


def train_hfbn_step(
    grid: Path, readings: Path, seed: int, max_train_windows: int, model: Path, report: Path
):
    from novamind_core.families.biometric import hfbn
    from novamind_core.families.biometric.intraday import Intraday

    data = prepare(grid, seed)
    intraday = Intraday.from_frame(read_frame(readings, "readings"), data.cohort)
    settings = hfbn.HfbnSettings(seed=seed, **_limit(max_train_windows))
    predictor = hfbn.fit(
        data.windows["train"], data.windows["validation"], data.scaling, intraday, settings
    )
    predictor.save(model)
    out = {
        side: accuracy(
            predictor.predict(data.windows[side], intraday), data.windows[side], data.scales
        )
        for side in ("validation", "test")
    }
    result = write_report(
        report,
        "hfbn",
        {**out, "training_seconds": predictor.training_seconds, "epochs": predictor.epochs_run},
    )
    return headline(result)


def train_aligner_step(grid: Path, seed: int, max_train_windows: int, model: Path, report: Path):
    from novamind_core.families.biometric import aligner

    data = prepare(grid, seed)
    settings = aligner.AlignerSettings(seed=seed, **_limit(max_train_windows))
    fitted = aligner.fit(data.windows["train"], data.windows["validation"], data.scaling, settings)
    fitted.save(model)
    retrieval = fitted.retrieval(data.windows["test"], seed=seed)
    ridge = aligner.AlignedRidge(data.scaling, fitted).fit(
        data.windows["train"], data.windows["validation"]
    )
    out = {
        side: accuracy(ridge.predict(data.windows[side]), data.windows[side], data.scales)
        for side in ("validation", "test")
    }
    result = write_report(
        report,
        "aligned_ridge",
        {
            **out,
            "retrieval": retrieval,
            "training_seconds": fitted.training_seconds,
            "epochs": fitted.epochs_run,
        },
    )
    return {
        **headline(result),
        "retrieval_top1": round(retrieval["top1"], 4),
        "retrieval_chance": round(retrieval["chance_top1"], 4),
    }


def _limit(max_train_windows: int) -> dict:
    return {"max_train_windows": max_train_windows} if max_train_windows > 0 else {}


# -- evaluation, selection, gates -----------------------------------------------------
def planted_lag_attention(attention: np.ndarray, windows: Windows) -> list[dict]:
    """For each planted lead (a signal ``lag`` days before a symptom) and each horizon whose
    planted day lies in the window: how much attention that day gets, against the even
    share of the days with data, and how often it is the most attended day."""
    from novamind_core.families.biometric.signals import SIGNALS

    has_data = (~np.isnan(windows.x)).any(axis=2)  # (N, L)
    out = []
    for biometric, symptom, lag in PLANTED:
        s = TARGETS.index(symptom)
        for h in range(1, lag + 1):
            position = LOOKBACK - 1 - (lag - h)  # the day ``lag`` days before origin + h
            rows = has_data[:, position]
            if not rows.any():
                continue
            weights = attention[rows, h - 1, s, :]
            days = has_data[rows].sum(axis=1)
            out.append(
                {
                    "biometric": biometric,
                    "symptom": symptom,
                    "lag_days": lag,
                    "horizon": h,
                    "position": int(position),
                    "mean_weight": float(weights[:, position].mean()),
                    "even_share": float((1 / days).mean()),
                    "argmax_share": float((weights.argmax(axis=1) == position).mean()),
                    "windows": int(rows.sum()),
                    "signal_known": biometric in SIGNALS,
                }
            )
    return out


PLANTED = (("sleep_hours", "phq9", 1), ("hrv_rmssd_ms", "gad7", 2))


def evaluate_step(
    grid: Path,
    seed: int,
    evaluation: Path,
    **reports: Path,
) -> dict:
    """Baselines on the same windows; every model's report (``reports``: name → the
    folder of its ``report.json``); the selection; the gates."""
    data = prepare(grid, seed)
    test, validation = data.windows["test"], data.windows["validation"]
    fallback = data.scaling.target_scale()[0]
    results = {"test": {}, "validation": {}}
    for name, forecaster in (("last_value", last_value), ("seasonal_naive", seasonal_naive)):
        for side, w in (("test", test), ("validation", validation)):
            results[side][name] = accuracy(forecaster(w, fallback), w, data.scales)
    ridge = RidgeForecaster(data.scaling).fit(data.windows["train"], validation)
    for side, w in (("test", test), ("validation", validation)):
        results[side]["ridge"] = accuracy(ridge.predict(w), w, data.scales)
    models = {}
    for name, folder in reports.items():
        report = read_json(folder / "report.json")
        models[name] = report
        for side in ("test", "validation"):
            results[side][report["model"]] = report[side]
    servable = [m for m in SERVABLE if m in results["validation"]]
    if not servable:
        raise ValidationError("no servable predictor (bilstm or tft) was trained")
    selected = min(servable, key=lambda m: results["validation"][m]["mean_mase"])
    attention = models[selected]["attention"]
    gates = {
        "predictor_beats_baselines": beats_baselines(results["test"], selected),
        "attention_valid": bool(attention["finite"] and attention["sums_to_one"]),
    }
    document = {
        "selected": selected,
        "selection": "lowest mean MASE on the validation patients among " + ", ".join(servable),
        "test": results["test"],
        "validation_mean_mase": {m: r["mean_mase"] for m, r in results["validation"].items()},
        "comparison": comparison(results["test"]),
        "verdict": verdict(results["test"]),
        "training": {
            m: {k: r.get(k) for k in ("training_seconds", "epochs", "peak_rss_mib")}
            for m, r in models.items()
        },
        "extras": {
            m: {
                k: r[k]
                for k in ("planted_lags", "variable_importance", "retrieval", "attention")
                if k in r
            }
            for m, r in models.items()
        },
        "windows": {side: len(w) for side, w in data.windows.items()},
        "gates": gates,
    }
    evaluation.mkdir(parents=True, exist_ok=True)
    write_json(evaluation / "predictors.json", document, indent=2)
    log.info("predictors: %s", json.dumps(document["verdict"]))
    return {
        "selected_" + selected: 1.0,
        "selected_test_mean_mase": round(results["test"][selected]["mean_mase"], 4),
        "ridge_test_mean_mase": round(results["test"]["ridge"]["mean_mase"], 4),
        "last_value_test_mean_mase": round(results["test"]["last_value"]["mean_mase"], 4),
        **{f"gate_{k}": float(v) for k, v in gates.items()},
    }
