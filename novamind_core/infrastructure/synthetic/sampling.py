"""Turn the daily latent state into what source systems record: irregular, gappy rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from novamind_core.infrastructure.synthetic.dynamics import DailyState

SECONDS_PER_DAY = 86_400
READINGS_PER_DAY = 6.0
HRV_MISSING = 0.25
GAD7_MISSING = 0.08
WEEKLY_COMPLETION = 0.85


def _timestamps(start: date, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    base = np.datetime64(start, "s")
    return base + (day.astype("int64") * SECONDS_PER_DAY + seconds.astype("int64")).astype(
        "timedelta64[s]"
    )


def _sorted_frame(columns: dict[str, np.ndarray], keys: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame["recorded_at"] = frame["recorded_at"].astype("datetime64[ns]")
    frame = frame.sort_values(["patient_id", "recorded_at"], kind="stable")
    return frame.drop_duplicates(keys).reset_index(drop=True)


def symptom_reports(
    rng: np.random.Generator,
    state: DailyState,
    ids: np.ndarray,
    active: np.ndarray,
    start: date,
) -> pd.DataFrame:
    """Daily mood ratings plus roughly weekly PHQ-9 and GAD-7 questionnaires."""
    n, days = active.shape
    adherence = rng.beta(6, 3, size=(n, 1))
    mood_mask = active & (rng.random((n, days)) < adherence)
    p_m, t_m = np.nonzero(mood_mask)
    mood = np.clip(np.round(state.scores["mood"][p_m, t_m]), 0, 10)

    offsets = rng.integers(0, 7, size=n)
    weekly_days = np.arange(0, days + 7, 7)
    t_w = offsets[:, None] + weekly_days[None, :] + rng.integers(-1, 2, (n, len(weekly_days)))
    p_w = np.repeat(np.arange(n)[:, None], len(weekly_days), axis=1)
    keep = (t_w >= 0) & (t_w < days)
    p_w, t_w = p_w[keep], t_w[keep]
    keep = active[p_w, t_w] & (rng.random(len(p_w)) < WEEKLY_COMPLETION)
    p_w, t_w = p_w[keep], t_w[keep]
    phq = np.clip(np.round(state.scores["phq9"][p_w, t_w]), 0, 27)
    gad = np.clip(np.round(state.scores["gad7"][p_w, t_w]), 0, 21)
    gad[rng.random(len(gad)) < GAD7_MISSING] = np.nan

    nan_m, nan_w = np.full(len(p_m), np.nan), np.full(len(p_w), np.nan)
    return _sorted_frame(
        {
            "patient_id": np.concatenate([ids[p_m], ids[p_w]]),
            "recorded_at": np.concatenate(
                [
                    _timestamps(start, t_m, rng.integers(17 * 3600, 23 * 3600, len(p_m))),
                    _timestamps(start, t_w, rng.integers(8 * 3600, 22 * 3600, len(p_w))),
                ]
            ),
            "phq9": np.concatenate([nan_m, phq]),
            "gad7": np.concatenate([nan_m, gad]),
            "mood": np.concatenate([mood, nan_w]),
        },
        ["patient_id", "recorded_at"],
    )


def device_wear(rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """Days the wearable was worn: random off days plus a few multi-day gaps."""
    n, days = active.shape
    worn = active & (rng.random((n, days)) > 0.05)
    gaps = rng.integers(0, 4, size=n)
    for i in np.nonzero(gaps)[0]:
        for _ in range(gaps[i]):
            first = int(rng.integers(0, days))
            worn[i, first : first + int(rng.integers(3, 22))] = False
    return worn


def biometric_records(
    rng: np.random.Generator,
    state: DailyState,
    ids: np.ndarray,
    worn: np.ndarray,
    start: date,
) -> pd.DataFrame:
    """Heart-rate/HRV readings at irregular times plus nightly sleep and daily steps."""
    counts = rng.poisson(READINGS_PER_DAY, worn.shape) * worn
    p_r, t_r = np.nonzero(counts)
    reps = counts[p_r, t_r]
    p_r, t_r = np.repeat(p_r, reps), np.repeat(t_r, reps)
    secs = rng.integers(0, SECONDS_PER_DAY, len(p_r))
    circadian = 6.0 * np.sin(2 * np.pi * (secs / SECONDS_PER_DAY - 0.375))
    hr = state.levels["heart_rate_bpm"][p_r, t_r] + circadian + rng.normal(0, 5.0, len(p_r))
    hrv = state.levels["hrv_rmssd_ms"][p_r, t_r] * np.exp(rng.normal(0, 0.2, len(p_r)))
    hrv[rng.random(len(hrv)) < HRV_MISSING] = np.nan

    p_d, t_d = np.nonzero(worn)
    sleep = state.levels["sleep_hours"][p_d, t_d] + rng.normal(0, 0.25, len(p_d))
    steps = state.levels["steps"][p_d, t_d] * rng.uniform(0.9, 1.1, len(p_d))
    nr, nd = np.full(len(p_r), np.nan), np.full(len(p_d), np.nan)
    return _sorted_frame(
        {
            "patient_id": np.concatenate([ids[p_r], ids[p_d], ids[p_d]]),
            "recorded_at": np.concatenate(
                [
                    _timestamps(start, t_r, secs),
                    _timestamps(start, t_d, rng.integers(6 * 3600, 9 * 3600, len(p_d))),
                    _timestamps(start, t_d, rng.integers(23 * 3600, SECONDS_PER_DAY, len(p_d))),
                ]
            ),
            "record_type": np.concatenate(
                [
                    np.full(len(p_r), "reading"),
                    np.full(len(p_d), "sleep_summary"),
                    np.full(len(p_d), "activity_summary"),
                ]
            ),
            "heart_rate_bpm": np.concatenate([np.round(np.clip(hr, 35, 200), 1), nd, nd]),
            "hrv_rmssd_ms": np.concatenate([np.round(np.clip(hrv, 3, 250), 1), nd, nd]),
            "sleep_hours": np.concatenate([nr, np.round(np.clip(sleep, 0, 16), 2), nd]),
            "steps": np.concatenate([nr, nd, np.round(np.clip(steps, 0, 60_000))]),
        },
        ["patient_id", "recorded_at"],
    )
