"""Held-out evaluation of medication-response models: discrimination, calibration and the
phenotype effects they recovered.

Per head (response on assessed trials, side effect on every trial): ROC-AUC, Brier score,
log loss and the expected calibration error (ECE, 10 equal-width bins, weighted by bin
size). The phenotype table compares, per metabolizer phenotype of the drug's first
metabolizing gene, each model's mean prediction with the rate observed in the held-out
trials and, when the generator's planted shifts are given, with the planted rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

HEADS = ("response", "side_effect")
ECE_BINS = 10


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(float(y[inside].mean()) - float(p[inside].mean()))
    return float(total)


def head_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    known = ~np.isnan(y)
    y, p = y[known], np.clip(p[known], 1e-6, 1 - 1e-6)
    out = {"n": len(y), "positive_rate": float(y.mean()) if len(y) else math.nan}
    if len(y) == 0 or len(set(y.tolist())) < 2:
        return {
            **out,
            "roc_auc": math.nan,
            "brier": math.nan,
            "log_loss": math.nan,
            "ece": math.nan,
        }
    return {
        **out,
        "roc_auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
    }


def model_metrics(labels: np.ndarray, proba: np.ndarray) -> dict:
    return {head: head_metrics(labels[:, i], proba[:, i]) for i, head in enumerate(HEADS)}


def planted_rates(truth: Mapping | None) -> dict[str, dict[str, float]]:
    """The generator's rates per phenotype, as observed in trials: side effect
    sigmoid(base + shift); response sigmoid(base + shift) times the share of trials a
    severe side effect does not end (a trial so ended is assessed as no response)."""
    if not truth:
        return {}
    base_r = _logit(truth["base_response_probability"])
    base_s = _logit(truth["base_side_effect_probability"])
    severe = truth.get("severe_side_effect_ends_trial_share", 0.0)
    out: dict[str, dict[str, float]] = {}
    for phenotype in truth["side_effect_logit_shift_by_phenotype"]:
        p_side = _sigmoid(base_s + truth["side_effect_logit_shift_by_phenotype"][phenotype])
        p_resp = _sigmoid(base_r + truth["response_logit_shift_by_phenotype"][phenotype])
        out[phenotype] = {"response": p_resp * (1 - severe * p_side), "side_effect": p_side}
    out["none"] = {  # no metabolizing gene: the generator uses NM
        "response": out["NM"]["response"],
        "side_effect": out["NM"]["side_effect"],
    }
    return out


def phenotype_effects(
    phenotypes: list[str],
    labels: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    truth: Mapping | None = None,
) -> list[dict]:
    """Per phenotype of the drug's first gene: trials, observed rates, each model's mean
    prediction, the planted rate."""
    planted = planted_rates(truth)
    groups = np.array(phenotypes)
    rows = []
    for phenotype in ("PM", "IM", "NM", "RM", "UM", "none", "unknown"):
        inside = groups == phenotype
        if not inside.any():
            continue
        row = {"phenotype": phenotype, "trials": int(inside.sum())}
        for i, head in enumerate(HEADS):
            y = labels[inside, i]
            row[f"{head}_observed"] = float(np.nanmean(y)) if (~np.isnan(y)).any() else None
            if phenotype in planted:
                row[f"{head}_planted"] = round(planted[phenotype][head], 4)
            for name, proba in predictions.items():
                row[f"{head}_{name}"] = float(proba[inside, i].mean())
        rows.append(row)
    return rows


def effect_error(rows: list[dict], model: str, head: str = "side_effect") -> float | None:
    """Mean absolute gap between a model's mean prediction and the planted rate, over the
    phenotype groups, weighted by trials (None without planted rates)."""
    pairs = [
        (r["trials"], abs(r[f"{head}_{model}"] - r[f"{head}_planted"]))
        for r in rows
        if f"{head}_planted" in r
    ]
    if not pairs:
        return None
    weights, gaps = zip(*pairs, strict=True)
    return float(np.average(gaps, weights=weights))


def planted_ceiling(phenotypes: list[str], labels: np.ndarray, truth: Mapping | None) -> dict:
    """The figures of the generator's own probabilities (per phenotype of the drug's first
    gene): what a perfect model of the planted effect would score on these trials — the
    ceiling the models are measured against. Empty without planted rates."""
    rates = planted_rates(truth)
    if not rates:
        return {}
    known = [p if p in rates else "NM" for p in phenotypes]  # "unknown": not genotyped
    proba = np.array([[rates[p]["response"], rates[p]["side_effect"]] for p in known])
    return model_metrics(labels, proba) if len(proba) else {}


def reliability_plot(labels: np.ndarray, predictions: Mapping[str, np.ndarray], path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    edges = np.linspace(0, 1, ECE_BINS + 1)
    for i, (ax, head) in enumerate(zip(axes, HEADS, strict=True)):
        known = ~np.isnan(labels[:, i])
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
        for name, proba in predictions.items():
            p, y = proba[known, i], labels[known, i]
            which = np.clip(np.digitize(p, edges[1:-1]), 0, ECE_BINS - 1)
            xs, ys = [], []
            for b in range(ECE_BINS):
                if (which == b).sum() >= 5:
                    xs.append(p[which == b].mean())
                    ys.append(y[which == b].mean())
            ax.plot(xs, ys, "o-", label=name, markersize=4)
        ax.set_title(f"{head.replace('_', ' ')} (held-out patients)")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed rate")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
