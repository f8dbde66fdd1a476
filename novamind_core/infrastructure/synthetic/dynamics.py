"""Daily latent dynamics: wearable physiology and symptom severity, with planted leads.

Each biometric is a per-patient AR(1) series of standardized daily deviations ``z``.
Symptom severity on day t is a slow trend (AR(1) towards the patient's baseline,
lowered by treatment) plus direct, lagged effects of the biometrics:

    PHQ-9(t) = trend_D(t) + Σ_k β_k · z_k(t − lag_k) + noise
    GAD-7(t) = trend_A(t) + Σ_k β_k · z_k(t − lag_k) + noise
    mood(t)  = 9 − 0.3 · PHQ-9(t) + noise

Because the leads enter directly (not through the trend's memory), the lagged
correlation of a planted pair peaks at its planted lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BIOMETRIC_AR = 0.35
SYMPTOM_TREND_AR = 0.92
SYMPTOM_TREND_NOISE = 0.9
OBSERVATION_NOISE = {"phq9": 1.5, "gad7": 1.3, "mood": 0.8}
MOOD_INTERCEPT, MOOD_SLOPE = 9.0, -0.3

# Planted lead-lag effects: (biometric, symptom, lag in days, points per SD).
LEADS: tuple[tuple[str, str, int, float], ...] = (
    ("sleep_hours", "phq9", 1, -1.6),
    ("steps", "phq9", 0, -0.9),
    ("hrv_rmssd_ms", "gad7", 2, -1.4),
)
BIOMETRICS = ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")

BASELINES = {  # (PHQ-9 mean, GAD-7 mean) per diagnosis
    "MDD": (15.0, 9.0),
    "GAD": (9.0, 14.0),
    "BIPOLAR": (13.0, 9.0),
    "PTSD": (12.0, 12.0),
    "MIXED": (13.0, 12.0),
}


@dataclass
class DailyState:
    """Everything that happens each day, before anything is observed."""

    z: dict[str, np.ndarray]  # biometric -> (patients, days) standardized deviation
    levels: dict[str, np.ndarray]  # biometric -> (patients, days) value in its unit
    scores: dict[str, np.ndarray]  # instrument -> (patients, days) continuous score


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    """Unit-variance AR(1) series along axis 1."""
    eps = rng.standard_normal(shape) * np.sqrt(1 - phi**2)
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[0])
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + eps[:, t]
    return out


def _lagged(z: np.ndarray, lag: int) -> np.ndarray:
    """z shifted right by ``lag`` days; the first days repeat day 0's value."""
    if lag == 0:
        return z
    return np.concatenate([np.repeat(z[:, :1], lag, axis=1), z[:, :-lag]], axis=1)


def simulate(
    rng: np.random.Generator,
    diagnoses: np.ndarray,
    reduction: np.ndarray,
) -> DailyState:
    n, days = reduction.shape
    z = {name: _ar1(rng, (n, days), BIOMETRIC_AR) for name in BIOMETRICS}
    levels = {
        "heart_rate_bpm": rng.normal(68, 7, (n, 1)) + 4.0 * z["heart_rate_bpm"],
        "hrv_rmssd_ms": np.exp(rng.normal(np.log(40), 0.35, (n, 1)) + 0.25 * z["hrv_rmssd_ms"]),
        "sleep_hours": np.clip(rng.normal(7.0, 0.6, (n, 1)) + 1.0 * z["sleep_hours"], 2.0, 13.0),
        "steps": np.exp(rng.normal(np.log(7000), 0.4, (n, 1)) + 0.35 * z["steps"]),
    }
    base = np.array([BASELINES[d] for d in diagnoses])
    base = np.clip(base + rng.normal(0, 3.5, base.shape), 2.0, None)
    trend = {
        "phq9": _trend(rng, base[:, 0:1] * (1 - reduction)),
        "gad7": _trend(rng, base[:, 1:2] * (1 - 0.8 * reduction)),
    }
    latent = {}
    for symptom in ("phq9", "gad7"):
        value = trend[symptom].copy()
        for biometric, target, lag, beta in LEADS:
            if target == symptom:
                value += beta * _lagged(z[biometric], lag)
        latent[symptom] = value
    latent["mood"] = MOOD_INTERCEPT + MOOD_SLOPE * latent["phq9"]
    scores = {
        name: value + rng.normal(0, OBSERVATION_NOISE[name], (n, days))
        for name, value in latent.items()
    }
    return DailyState(z=z, levels=levels, scores=scores)


def _trend(rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
    n, days = target.shape
    out = np.empty((n, days))
    out[:, 0] = target[:, 0] + rng.normal(0, 2.0, n)
    noise = rng.normal(0, SYMPTOM_TREND_NOISE, (n, days))
    for t in range(1, days):
        out[:, t] = (
            SYMPTOM_TREND_AR * out[:, t - 1] + (1 - SYMPTOM_TREND_AR) * target[:, t] + noise[:, t]
        )
    return out


def within_patient_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of per-patient-demeaned values, pooled over patients."""
    xd = x - x.mean(axis=1, keepdims=True)
    yd = y - y.mean(axis=1, keepdims=True)
    return float((xd * yd).sum() / np.sqrt((xd**2).sum() * (yd**2).sum()))


def planted_correlations(state: DailyState, max_lag: int = 7) -> list[dict]:
    """Lagged within-patient correlation of every biometric-symptom pair on the daily grid."""
    out = []
    for biometric in BIOMETRICS:
        for symptom in ("phq9", "gad7", "mood"):
            by_lag = []
            for lag in range(max_lag + 1):
                x = _lagged(state.levels[biometric], lag)[:, max_lag:]
                y = state.scores[symptom][:, max_lag:]
                by_lag.append(round(within_patient_correlation(x, y), 4))
            out.append({"biometric": biometric, "symptom": symptom, "r_by_lag": by_lag})
    return out
