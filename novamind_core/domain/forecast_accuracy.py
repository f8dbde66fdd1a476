"""Forecast accuracy per horizon, computed on really observed target days only."""

from __future__ import annotations

import numpy as np


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mask = mask > 0
    counts = mask.sum(axis=0)
    total = np.where(mask, values, 0.0).sum(axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def pinball(target: np.ndarray, prediction: np.ndarray, q: float) -> np.ndarray:
    diff = target - prediction
    return np.maximum(q * diff, (q - 1) * diff)


def horizon_metrics(
    target: np.ndarray,
    observed: np.ndarray,
    median: np.ndarray,
    scale: float,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> dict[str, list[float]]:
    """MAE, MASE and, with an interval, pinball loss, coverage and width per horizon."""
    abs_err = np.abs(target - median)
    mae = _masked_mean(abs_err, observed)
    out = {"mae": mae.tolist(), "mase": (mae / scale).tolist(), "n": observed.sum(0).tolist()}
    if lower is not None and upper is not None:
        loss = (
            pinball(target, lower, 0.1) + pinball(target, median, 0.5) + pinball(target, upper, 0.9)
        ) / 3
        inside = ((target >= lower) & (target <= upper)).astype(float)
        out["pinball"] = _masked_mean(loss, observed).tolist()
        out["coverage"] = _masked_mean(inside, observed).tolist()
        out["width"] = _masked_mean(upper - lower, observed).tolist()
    return out
