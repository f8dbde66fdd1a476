"""The registered symptom predictor as the correlator serves it: loaded from its folder,
run on each patient's last window, and explained — per prediction, the weight of each
input day and of each signal, from which the server reports ``temporal_patterns``.

* BiLSTM: attention per (horizon, symptom) over the days; the signals from its per-day
  signal gate, weighted by that attention.
* TFT: pytorch-forecasting's attention over the encoder days (one per window, the same
  for every horizon and symptom); the signals from its encoder variable importances.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGETS,
    Windows,
)
from novamind_core.families.biometric.predictor_baselines import Forecast
from novamind_core.families.biometric.signals import SIGNALS


@dataclass(frozen=True)
class Explained:
    forecast: Forecast
    attention: np.ndarray  # (N, H, S, L) over the input days, each row sums to one
    signals: np.ndarray  # (N, H, S, V) over SIGNALS, each row sums to one


def kind_of(directory: Path) -> str:
    if (directory / "bilstm.json").exists():
        return "bilstm"
    if (directory / "tft.json").exists() or any(directory.glob("tft*")):
        return "tft"
    raise FileNotFoundError(f"no BiLSTM or TFT predictor in {directory.name}")


def load(directory: Path):
    if kind_of(directory) == "bilstm":
        from novamind_core.families.biometric.bilstm import BiLstmPredictor

        return BiLstmPredictor.load(directory)
    from novamind_core.families.biometric.tft import TftPredictor

    return TftPredictor.load(directory)


def explain(predictor, windows: Windows) -> Explained:
    from novamind_core.families.biometric.bilstm import BiLstmPredictor

    n = len(windows)
    if isinstance(predictor, BiLstmPredictor):
        forecast, attention, gate = predictor.forward(windows)
        signals = np.einsum("nhsl,nlv->nhsv", attention, gate)
    else:
        forecast = predictor.predict(windows)
        days = predictor.attention(windows)  # (N, L)
        attention = np.broadcast_to(days[:, None, None, :], (n, HORIZON, len(TARGETS), LOOKBACK))
        importance = predictor.variable_importance().get("encoder", {})
        weights = np.array([_importance_of(importance, s) for s in SIGNALS], dtype=float)
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(SIGNALS), 1 / 7)
        signals = np.broadcast_to(weights, (n, HORIZON, len(TARGETS), len(SIGNALS)))
    totals = signals.sum(axis=-1, keepdims=True)
    signals = np.divide(signals, totals, out=np.zeros_like(signals), where=totals > 0)
    return Explained(forecast, np.asarray(attention), np.asarray(signals))


def _importance_of(importance: dict, signal: str) -> float:
    """A signal's share: its value's and its mask's importance together."""
    return float(sum(v for k, v in importance.items() if k == signal or k.startswith(signal)))
