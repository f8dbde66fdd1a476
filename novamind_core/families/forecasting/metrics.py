"""Forecast accuracy per horizon, computed on really observed target days only."""

from __future__ import annotations

import numpy as np

from novamind_core.domain.forecast_accuracy import horizon_metrics, pinball

__all__ = ["QUANTILES", "SEASON", "horizon_metrics", "pinball", "seasonal_scale"]

SEASON = 7
QUANTILES = (0.1, 0.5, 0.9)


def seasonal_scale(history: np.ndarray, observed: np.ndarray) -> float:
    """In-sample MAE of the seasonal-naive forecast over the windows' histories (MASE scale)."""
    diffs = np.abs(history[:, SEASON:] - history[:, :-SEASON])
    both = (observed[:, SEASON:] * observed[:, :-SEASON]) > 0
    if not both.any():
        raise ValueError("no pair of observed days one season apart: MASE is undefined")
    return float(diffs[both].mean())
