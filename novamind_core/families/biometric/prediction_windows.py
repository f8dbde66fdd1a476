"""Supervised windows for the symptom predictors: the last ``LOOKBACK`` days of every
daily signal (wearables and self-reports) → the next ``HORIZON`` days' symptom scores.

A window ends on its *origin* day (the last day of input); its targets are the days
``origin + 1 … origin + HORIZON``. Days without a record stay NaN in ``x`` (each model
sees a mask beside the values, nothing is imputed) and unobserved target days stay NaN in
``y`` (every loss and every metric counts observed days only). A patient with fewer than
``LOOKBACK`` days before the origin is padded on the left with missing days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.alignment import AlignedCohort
from novamind_core.families.biometric.signals import BIOMETRICS, SIGNALS, SYMPTOMS

LOOKBACK = 28  # days of input
HORIZON = 7  # days ahead
TARGETS = SYMPTOMS
MIN_HISTORY_DAYS = 7  # fewer days of history than this: not enough to predict from
TARGET_INDEX = np.array([SIGNALS.index(s) for s in TARGETS])
WEARABLE_INDEX = np.array([SIGNALS.index(s) for s in BIOMETRICS])


@dataclass(frozen=True)
class Scaling:
    """Per-signal centre and spread from the training patients' days (standardization)."""

    mean: np.ndarray  # (V,)
    sd: np.ndarray  # (V,)

    @classmethod
    def fit(cls, windows: Windows) -> Scaling:
        last = windows.x[:, -1, :]  # each window's origin day: every day counted about once
        mean = np.nanmean(last, axis=0)
        sd = np.nanstd(last, axis=0)
        if not np.all(np.isfinite(mean)) or not np.all(sd > 0):
            missing = [s for s, m, d in zip(SIGNALS, mean, sd, strict=True) if not d > 0]
            raise ValidationError(
                f"the training windows never vary in {', '.join(missing)}: cannot scale"
            )
        return cls(mean.astype(np.float32), sd.astype(np.float32))

    def to_dict(self) -> dict:
        return {"signals": list(SIGNALS), "mean": self.mean.tolist(), "sd": self.sd.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Scaling:
        if list(data["signals"]) != list(SIGNALS):
            raise ValidationError(f"scaling for signals {data['signals']}, expected {SIGNALS}")
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["sd"], np.float32))

    def standardize(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.sd

    def target_scale(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean[TARGET_INDEX], self.sd[TARGET_INDEX]


@dataclass(frozen=True)
class Windows:
    keys: np.ndarray  # (N,) the patient of each window
    origin: np.ndarray  # (N,) datetime64[D] the last day of input
    x: np.ndarray  # (N, LOOKBACK, V) float32 daily values, NaN = no record
    y: np.ndarray  # (N, HORIZON, S) float32 targets, NaN = not observed

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.y)

    def subset(self, rows) -> Windows:
        rows = np.asarray(rows)
        return Windows(self.keys[rows], self.origin[rows], self.x[rows], self.y[rows])

    def sample(self, limit: int, seed) -> Windows:
        """At most ``limit`` windows, a seeded random choice in their order (all of them
        when fewer); ``seed`` may be a ``numpy.random.Generator`` to draw from."""
        if len(self) <= limit:
            return self
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), limit, replace=False)))

    def inputs(self, scaling: Scaling) -> np.ndarray:
        """(N, LOOKBACK, 2V) float32: standardized values (0 where missing), then masks."""
        present = ~np.isnan(self.x)
        values = np.where(present, scaling.standardize(self.x), 0.0)
        return np.concatenate([values, present], axis=2).astype(np.float32)

    def days(self) -> np.ndarray:
        """(N, LOOKBACK) datetime64[D]: the calendar day of each input position."""
        return self.origin[:, None] + np.arange(1 - LOOKBACK, 1).astype("timedelta64[D]")


def windows_from(
    cohort: AlignedCohort,
    stride: int = 1,
    need_target: bool = True,
    origins: str = "all",
) -> Windows:
    """Every patient's windows: origins from day ``MIN_HISTORY_DAYS - 1`` of their grid on,
    every ``stride`` days. ``need_target``: only origins with at least one observed
    target day (training and evaluation). ``origins="last"``: one window per patient
    ending on their last day (serving)."""
    keys, origin_days, xs, ys = [], [], [], []
    values = cohort.values.astype(np.float32)
    for p in range(len(cohort.keys)):
        length = int(cohort.length[p])
        if origins == "last":
            ends = np.array([length - 1])
        else:
            ends = np.arange(MIN_HISTORY_DAYS - 1, length - 1, stride)
        if len(ends) == 0:
            continue
        series = values[p]  # (V, D)
        padded = np.concatenate(
            [
                np.full((len(SIGNALS), LOOKBACK - 1), np.nan, np.float32),
                series,
                np.full((len(SIGNALS), HORIZON), np.nan, np.float32),
            ],
            axis=1,
        )
        # input day t sits at padded column t + LOOKBACK - 1
        take_x = ends[:, None] + np.arange(LOOKBACK)[None, :]  # columns of the window
        take_y = ends[:, None] + LOOKBACK + np.arange(HORIZON)[None, :]
        x = padded[:, take_x].transpose(1, 2, 0)  # (n, L, V)
        y = padded[TARGET_INDEX][:, take_y].transpose(1, 2, 0)  # (n, H, S)
        if need_target:
            keep = (~np.isnan(y)).any(axis=(1, 2))
            ends, x, y = ends[keep], x[keep], y[keep]
        keys.append(np.full(len(ends), cohort.keys[p], dtype=object))
        origin_days.append(cohort.start[p] + ends.astype("timedelta64[D]"))
        xs.append(x)
        ys.append(y)
    if not keys:
        return Windows(
            np.array([], dtype=object),
            np.array([], dtype="datetime64[D]"),
            np.zeros((0, LOOKBACK, len(SIGNALS)), np.float32),
            np.zeros((0, HORIZON, len(TARGETS)), np.float32),
        )
    return Windows(
        np.concatenate(keys), np.concatenate(origin_days), np.concatenate(xs), np.concatenate(ys)
    )


def check_history(x: np.ndarray, where: str) -> None:
    """One window's input is enough to predict from: at least ``MIN_HISTORY_DAYS`` days
    with a record, at least one wearable reading and one self-report among them."""
    present = ~np.isnan(x)
    days = int(present.any(axis=1).sum())
    if days < MIN_HISTORY_DAYS:
        raise ValidationError(
            f"{where}: {days} day(s) with a record in the last {LOOKBACK}; a prediction needs "
            f"at least {MIN_HISTORY_DAYS}"
        )
    if not present[:, WEARABLE_INDEX].any():
        raise ValidationError(
            f"{where}: every wearable signal is missing in the last {LOOKBACK} days"
        )
    if not present[:, TARGET_INDEX].any():
        raise ValidationError(f"{where}: no self-report in the last {LOOKBACK} days")
