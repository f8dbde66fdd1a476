"""Stacked ensemble weights per horizon and split-conformal prediction intervals.

Point forecasts of a whole-number instrument (PHQ-9 and GAD-7 are sums of item scores,
the mood rating is 0-10 in steps of 1) are rounded to whole numbers: a median of a
whole-number variable can always be taken whole. The interval bounds stay continuous,
fitted around the unrounded median: offsets around a whole median would be whole
numbers too, and an interval with whole-number ends over-covers a whole-number target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls


@dataclass
class EnsembleCalibration:
    """Per-horizon weights (transformer, xgboost) and interval offsets around the median."""

    weights: np.ndarray  # (H, 2), non-negative, rows sum to 1
    lower_offset: np.ndarray  # (H,) added to the median for the 0.1 bound
    upper_offset: np.ndarray  # (H,) added to the median for the 0.9 bound
    coverage: float = 0.8
    round_median: bool = False  # whole-number instrument: the point forecast is whole

    def combine(self, transformer_median: np.ndarray, xgb_pred: np.ndarray) -> np.ndarray:
        return transformer_median * self.weights[:, 0] + xgb_pred * self.weights[:, 1]

    def interval(self, median: np.ndarray, low: float, high: float):
        """(lower, point forecast, upper) from the combined, unrounded median."""
        lower = np.clip(median + self.lower_offset, low, high)
        upper = np.clip(median + self.upper_offset, low, high)
        point = np.clip(np.round(median) if self.round_median else median, low, high)
        return np.minimum(lower, point), point, np.maximum(upper, point)

    def to_dict(self) -> dict:
        return {
            "weights": self.weights.tolist(),
            "lower_offset": self.lower_offset.tolist(),
            "upper_offset": self.upper_offset.tolist(),
            "coverage": self.coverage,
            "round_median": self.round_median,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EnsembleCalibration:
        return cls(
            np.array(data["weights"]),
            np.array(data["lower_offset"]),
            np.array(data["upper_offset"]),
            data["coverage"],
            bool(data.get("round_median", False)),  # bundles from before rounding: False
        )


def fit_weights(
    transformer_median: np.ndarray, xgb_pred: np.ndarray, target: np.ndarray, observed: np.ndarray
) -> np.ndarray:
    """Non-negative least squares per horizon on validation windows, normalized to sum 1."""
    weights = []
    for h in range(target.shape[1]):
        rows = observed[:, h] > 0
        design = np.stack([transformer_median[rows, h], xgb_pred[rows, h]], axis=1)
        w, _ = nnls(design, target[rows, h])
        weights.append(w / w.sum() if w.sum() > 0 else np.array([0.5, 0.5]))
    return np.array(weights)


def conformal_offsets(
    median: np.ndarray, target: np.ndarray, observed: np.ndarray, coverage: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Split-conformal residual quantiles per horizon with the finite-sample correction."""
    alpha = (1 - coverage) / 2
    lower, upper = [], []
    for h in range(target.shape[1]):
        residuals = (target[:, h] - median[:, h])[observed[:, h] > 0]
        n = len(residuals)
        if n < 10:
            raise ValueError(
                f"only {n} observed validation targets at horizon {h + 1}: "
                "too few to calibrate intervals"
            )
        lo_level = max(0.0, np.floor(alpha * (n + 1)) / n)
        hi_level = min(1.0, np.ceil((1 - alpha) * (n + 1)) / n)
        lower.append(np.quantile(residuals, lo_level))
        upper.append(np.quantile(residuals, hi_level))
    return np.array(lower), np.array(upper)


def calibrate(
    transformer_median: np.ndarray,
    xgb_pred: np.ndarray,
    target: np.ndarray,
    observed: np.ndarray,
    use_ensemble: bool,
    coverage: float = 0.8,
    round_median: bool = False,
) -> EnsembleCalibration:
    horizon = target.shape[1]
    if use_ensemble:
        weights = fit_weights(transformer_median, xgb_pred, target, observed)
    else:
        weights = np.tile([1.0, 0.0], (horizon, 1))
    median = transformer_median * weights[:, 0] + xgb_pred * weights[:, 1]
    lower, upper = conformal_offsets(median, target, observed, coverage)
    return EnsembleCalibration(weights, lower, upper, coverage, round_median)
