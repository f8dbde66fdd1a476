"""The baselines every symptom predictor must beat, on the same windows.

* ``last_value``: each symptom's last observed score in the window, for every horizon.
* ``seasonal_naive``: the score seven days before the target day (the weekly rhythm of
  questionnaires), else the last one observed before that day.
* ``RidgeForecaster``: a ridge regression per (horizon, symptom) on the very inputs the
  networks see (standardized values and masks of every signal over the window); its
  interval is the 10th–90th percentile of its validation residuals.

Where a window holds no score of a symptom at all, both naive forecasts fall back to the
training patients' mean of that symptom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGET_INDEX,
    Scaling,
    Windows,
)

SEASON = 7
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


@dataclass(frozen=True)
class Forecast:
    median: np.ndarray  # (N, H, S)
    lower: np.ndarray | None = None  # 10th percentile
    upper: np.ndarray | None = None  # 90th percentile


def _last_observed(history: np.ndarray) -> np.ndarray:
    """(N, L, S) → (N, L, S): at each day the last observed value up to it (NaN before)."""
    n, length, s = history.shape
    index = np.where(~np.isnan(history), np.arange(length)[None, :, None], -1)
    index = np.maximum.accumulate(index, axis=1)
    rows = np.arange(n)[:, None, None]
    cols = np.arange(s)[None, None, :]
    filled = history[rows, np.maximum(index, 0), cols]
    return np.where(index >= 0, filled, np.nan)


def last_value(windows: Windows, fallback: np.ndarray) -> Forecast:
    last = _last_observed(windows.x[:, :, TARGET_INDEX])[:, -1, :]  # (N, S)
    last = np.where(np.isnan(last), fallback[None, :], last)
    return Forecast(np.repeat(last[:, None, :], HORIZON, axis=1).astype(np.float32))


def seasonal_naive(windows: Windows, fallback: np.ndarray) -> Forecast:
    carried = _last_observed(windows.x[:, :, TARGET_INDEX])  # (N, L, S)
    h = np.arange(1, HORIZON + 1)
    day = LOOKBACK - 1 + h - SEASON  # input position of (target day − 7)
    out = carried[:, day, :]  # (N, H, S)
    out = np.where(np.isnan(out), fallback[None, None, :], out)
    return Forecast(out.astype(np.float32))


class RidgeForecaster:
    """One ridge per (horizon, symptom), fitted on that target's observed days only."""

    def __init__(self, scaling: Scaling):
        self.scaling = scaling
        self.coef: np.ndarray | None = None  # (F + 1, H, S) standardized target space
        self.alpha: np.ndarray | None = None  # (H, S)
        self.residual_q: np.ndarray | None = None  # (2, H, S) 10th and 90th percentiles

    def _design(self, windows: Windows) -> np.ndarray:
        x = windows.inputs(self.scaling).reshape(len(windows), -1)
        return np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1).astype(np.float64)

    def _target(self, windows: Windows) -> np.ndarray:
        mean, sd = self.scaling.target_scale()
        return (windows.y - mean) / sd

    def fit(self, train: Windows, validation: Windows) -> RidgeForecaster:
        xt, yt = self._design(train), self._target(train)
        xv, yv = self._design(validation), self._target(validation)
        features = xt.shape[1]
        _, horizon, symptoms = yt.shape
        self.coef = np.zeros((features, horizon, symptoms))
        self.alpha = np.zeros((horizon, symptoms))
        penalty = np.eye(features)
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        for h in range(horizon):
            for s in range(symptoms):
                seen = ~np.isnan(yt[:, h, s])
                if seen.sum() < features:
                    raise ValueError(f"too few observed targets to fit the ridge (horizon {h + 1})")
                gram = xt[seen].T @ xt[seen]
                rhs = xt[seen].T @ yt[seen, h, s]
                seen_v = ~np.isnan(yv[:, h, s])
                best = None
                for alpha in ALPHAS:
                    beta = np.linalg.solve(gram + alpha * penalty * len(rhs) / 1000, rhs)
                    error = np.abs(xv[seen_v] @ beta - yv[seen_v, h, s]).mean()
                    if best is None or error < best[0]:
                        best = (error, alpha, beta)
                _, self.alpha[h, s], self.coef[:, h, s] = best
        median = self._predict(xv)
        mean, sd = self.scaling.target_scale()
        residual = validation.y - (median * sd + mean)
        self.residual_q = np.stack(
            [np.nanpercentile(residual, q, axis=0) for q in (10, 90)]
        )  # (2, H, S)
        return self

    def _predict(self, design: np.ndarray) -> np.ndarray:
        return np.einsum("nf,fhs->nhs", design, self.coef)

    def predict(self, windows: Windows) -> Forecast:
        mean, sd = self.scaling.target_scale()
        median = (self._predict(self._design(windows)) * sd + mean).astype(np.float32)
        return Forecast(
            median,
            (median + self.residual_q[0]).astype(np.float32),
            (median + self.residual_q[1]).astype(np.float32),
        )
