"""The lead–lag engine: every biometric × symptom × lag, per patient and pooled over a
cohort, in a few array operations.

For lag ``L`` the biometric of day ``t − L`` is paired with the symptom of day ``t``,
over the days where both were recorded (no imputation). Per patient the statistic is
Pearson's r of those pairs; pooled over a cohort it is the repeated-measures correlation
(Bakdash & Marusich 2017): each patient's pairs are centred on that patient's own means
before they are summed, so differences between patients cannot pass for an association.
Spearman's variant ranks each series within the patient over its recorded days first
(ranks are not recomputed for each pair's overlap, which is what makes it vectorizable;
with complete data it is exactly Spearman's rho).

Autocorrelated series make the naive test reject far too often. The test uses an
effective sample size (Bartlett 1935; Pyper & Peterman 1998, generalized to gaps):

    n_eff = n / (1 + 2 Σ_{d=1..J} q_x(d) q_y(d) ρ_x(d) ρ_y(d))

with ρ(d) each series' autocorrelation at distance d days and q(d) the share of its
recorded days whose value d days later was recorded too (so weekly questionnaires count
their weekly memory, not a daily one). Per patient ρ is the patient's own estimate;
pooled, it is the cohort's within-patient estimate of each signal (steadier), and the
pooled r's variance is the sum of each patient's contribution at that patient's n_eff.
n_eff is never more than n. p-values come from Student's t at n_eff − 2 degrees of
freedom, intervals from Fisher's z at n_eff, and q-values from Benjamini–Hochberg over
every test of one analysis.

Everything is vectorized over patients, pairs and lags: sums of products for all lags
come from one batched matrix product of the lag-shifted biometrics (a sliding-window
view) with the symptoms; autocorrelations from FFTs. The only Python loop walks chunks
of patients, to bound memory, on a thread per core (numpy releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft, special, stats

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.signals import (
    BIOMETRICS,
    DEFAULT_MAX_LAG,
    MAX_LAG_LIMIT,
    METHODS,
    SIGNALS,
    SYMPTOMS,
    check_signals,
)

ACF_MAX_LAG = 21  # days of autocorrelation the correction sums (three weeks)
MIN_ACF_PAIRS = 10  # fewer co-recorded day pairs at a distance: that distance's ρ is not used
MIN_POOLED_PAIRS = 3  # a patient's pairs enter a pooled test from this many
CHUNK_PATIENTS = 256  # patients per batched product: about 140 MB at 15 lags
MAX_THREADS = 8  # chunks in flight at most, whatever the machine (memory stays bounded)


@dataclass(frozen=True)
class EngineSettings:
    """How one analysis runs. ``threshold`` marks clinically relevant strength; ``fdr``
    the false discovery rate that decides significance; ``min_pairs`` the paired days a
    single patient's test needs; ``autocorrelation=False`` gives the naive test (for
    comparison only)."""

    max_lag: int = DEFAULT_MAX_LAG
    method: str = "pearson"
    fdr: float = 0.05
    threshold: float = 0.3
    min_pairs: int = 10
    confidence: float = 0.95
    autocorrelation: bool = True
    biometrics: tuple[str, ...] = field(default=BIOMETRICS)
    symptoms: tuple[str, ...] = field(default=SYMPTOMS)

    def __post_init__(self) -> None:
        if isinstance(self.max_lag, bool) or not isinstance(self.max_lag, int | np.integer):
            raise ValidationError(f"max-lag must be a whole number of days, got {self.max_lag!r}")
        if not 0 <= self.max_lag <= MAX_LAG_LIMIT:
            raise ValidationError(
                f"max-lag must lie in 0..{MAX_LAG_LIMIT} days, got {self.max_lag}"
            )
        if self.method not in METHODS:
            raise ValidationError(
                f"method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if not 0 < self.fdr < 1:
            raise ValidationError(f"fdr must lie strictly between 0 and 1, got {self.fdr}")
        if not 0 <= self.threshold <= 1:
            raise ValidationError(f"the correlation threshold lies in [0, 1], got {self.threshold}")
        if not 0 < self.confidence < 1:
            raise ValidationError("confidence must lie strictly between 0 and 1")
        if self.min_pairs < 4:
            raise ValidationError("min_pairs must be at least 4 (a test needs n_eff > 3)")
        object.__setattr__(
            self, "biometrics", check_signals(self.biometrics, "biometric", BIOMETRICS)
        )
        object.__setattr__(self, "symptoms", check_signals(self.symptoms, "symptom", SYMPTOMS))

    def to_dict(self) -> dict:
        return {
            "max_lag": self.max_lag,
            "method": self.method,
            "fdr": self.fdr,
            "threshold": self.threshold,
            "min_pairs": self.min_pairs,
            "confidence": self.confidence,
            "autocorrelation": self.autocorrelation,
            "biometrics": list(self.biometrics),
            "symptoms": list(self.symptoms),
        }

    @classmethod
    def from_dict(cls, data: dict) -> EngineSettings:
        data = dict(data)
        for name in ("biometrics", "symptoms"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data)


@dataclass(frozen=True)
class Tests:
    """Arrays over (..., lag, biometric, symptom); ``valid`` marks computed tests."""

    r: np.ndarray
    n: np.ndarray  # paired days
    n_eff: np.ndarray
    p: np.ndarray
    q: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    valid: np.ndarray
    reason: np.ndarray  # why a test is not valid: 0 valid, 1 too few pairs, 2 constant


@dataclass(frozen=True)
class LeadLag:
    """Every test of one analysis: pooled (lag, biometric, symptom) and per patient
    (patient, lag, biometric, symptom)."""

    settings: EngineSettings
    pooled: Tests
    per_patient: Tests
    patients_pooled: np.ndarray  # (lag, biometric, symptom) patients contributing
    contributes: np.ndarray  # (patient,) contributes to at least one pooled test
    constant_series: np.ndarray  # (patient, biometrics + symptoms) no variation at all


def standardized(values: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per patient and series: the values (ranks for Spearman) centred and scaled over the
    recorded days, 0 where missing; and the mask of usable days (a constant series has
    none: it says nothing about co-movement)."""
    if method == "spearman":
        values = stats.rankdata(values, axis=-1, nan_policy="omit")
    mask = ~np.isnan(values)
    count = mask.sum(-1, keepdims=True)
    filled = np.where(mask, values, 0.0)
    mean = filled.sum(-1, keepdims=True) / np.maximum(count, 1)
    centred = np.where(mask, values - mean, 0.0)
    sd = np.sqrt((centred**2).sum(-1, keepdims=True) / np.maximum(count, 1))
    constant = (count >= 2) & (sd <= 1e-12 * np.maximum(np.abs(mean), 1.0))
    mask &= ~constant
    return np.where(mask, centred / np.where(sd > 0, sd, 1.0), 0.0), mask, constant[..., 0]


def lagged_sums(zx, ox, zy, oy, max_lag: int) -> np.ndarray:
    """(patients, 6, lags, biometrics, symptoms): n, Σx, Σy, Σx², Σy², Σxy over the days
    where the biometric ``lag`` days earlier and the symptom were both recorded."""
    days, b, s, lags = zx.shape[2], zx.shape[1], zy.shape[1], max_lag + 1
    x = np.concatenate([ox, zx, zx**2], axis=1)  # (c, 3b, D)
    padded = np.pad(x, ((0, 0), (0, 0), (max_lag, 0)))
    # window k starts k days into the padding: it is x shifted right by max_lag − k
    windows = sliding_window_view(padded, days, axis=2)[:, :, ::-1]  # (c, 3b, L, D)
    left = np.ascontiguousarray(windows.transpose(0, 2, 1, 3)).reshape(-1, lags * 3 * b, days)
    right = np.ascontiguousarray(np.concatenate([oy, zy, zy**2], axis=1).transpose(0, 2, 1))
    m = np.matmul(left, right).reshape(-1, lags, 3, b, 3, s)
    pick = ((0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1))  # n Σx Σy Σx² Σy² Σxy
    return np.stack([m[:, :, i, :, j, :] for i, j in pick], axis=1)


def autocorrelation(z: np.ndarray, mask: np.ndarray, max_distance: int):
    """Per patient and series, for distances 0..max_distance days: Σ z(t)z(t+d) and the
    count of day pairs recorded at both ends (FFT, all series at once; the transform is
    long enough that no product wraps around)."""
    size = fft.next_fast_len(z.shape[-1] + max_distance, real=True)
    out = []
    for series in (z, mask.astype(float)):
        spectrum = fft.rfft(series, size)
        out.append(fft.irfft(spectrum * spectrum.conj(), size)[..., : max_distance + 1])
    return out[0], np.rint(out[1])


def _chunk(values, rows, method, nb, max_lag, distance):
    """What one chunk of patients contributes: the lagged sums and autocorrelations."""
    z, mask, constant = standardized(values[:, rows], method)
    sums = lagged_sums(
        z[:, :nb], mask[:, :nb].astype(float), z[:, nb:], mask[:, nb:].astype(float), max_lag
    )
    if distance == 0:
        return sums, constant, None, None
    products, counts = autocorrelation(z, mask, distance)
    return sums, constant, products, counts


def _acf(products, counts, pooled: bool):
    """ρ(d) (0 where too few day pairs) and q(d) = share of recorded days recorded again d
    days later; ``pooled``: ρ from the cohort's within-patient sums.

    Each series was centred on its own mean, which biases its autocovariances down by the
    variance of that mean, v·γ(0) with v = (1 + 2 Σ_d q(d) ρ(d)) / m for m recorded days
    (the bias that makes short, strongly autocorrelated series look less so). Solving
    ρ̂ = (ρ − v) / (1 − v) for ρ, with v from the corrected ρ (three fixed-point steps),
    undoes it."""
    q = counts[..., 1:] / np.maximum(counts[..., :1], 1)
    if pooled:
        num, cnt = products.sum(0), counts.sum(0)
    else:
        num, cnt = products, counts
    variance = num[..., :1] / np.maximum(cnt[..., :1], 1)
    raw = num[..., 1:] / np.maximum(cnt[..., 1:], 1) / np.where(variance > 0, variance, 1.0)
    usable = cnt[..., 1:] >= MIN_ACF_PAIRS
    raw = np.where(usable, np.clip(raw, -1, 1), 0.0)
    days = np.maximum(counts[..., :1], 1)  # recorded days of each patient's series
    rho = raw
    for _ in range(3):
        v = (1.0 + 2.0 * (q * rho).sum(-1, keepdims=True)) / days
        if pooled:  # the cohort's ρ: the patients' mean bias
            v = v.mean(0)
        v = np.clip(v, 0.0, 0.5)
        rho = np.where(usable, np.clip(raw * (1 - v) + v, -1, 1), 0.0)
    return rho, q


def inflation(rho_x, q_x, rho_y, q_y) -> np.ndarray:
    """(patients, biometrics, symptoms): 1 + 2 Σ_d q_x q_y ρ_x ρ_y, at least 1."""
    total = np.einsum("pbd,psd->pbs", q_x * rho_x, q_y * rho_y)
    return np.maximum(1.0 + 2.0 * total, 1.0)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values along the last axis; NaN (no test) stays NaN and does
    not count among the tests."""
    p = np.asarray(p, dtype=float)
    flat = p.reshape(-1, p.shape[-1]) if p.ndim else p.reshape(1, 1)
    tests = (~np.isnan(flat)).sum(-1, keepdims=True)
    order = np.argsort(np.where(np.isnan(flat), np.inf, flat), axis=-1)
    ranked = np.take_along_axis(flat, order, -1)
    rank = np.arange(1, flat.shape[-1] + 1)
    scaled = ranked * tests / rank
    scaled = np.where(np.isnan(scaled), np.inf, scaled)
    q = np.minimum.accumulate(scaled[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(flat)
    np.put_along_axis(out, order, np.minimum(q, 1.0), -1)
    return np.where(np.isnan(flat), np.nan, out).reshape(p.shape)


def _test(r, n_eff, confidence):
    """Two-sided p (Student's t at n_eff − 2) and Fisher-z interval at n_eff."""
    r = np.clip(r, -1.0, 1.0)
    df = np.maximum(n_eff - 2.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(df / np.maximum(1.0 - r**2, 1e-300))
    p = 2.0 * special.stdtr(df, -np.abs(t))
    z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
    half = stats.norm.ppf(0.5 + confidence / 2) / np.sqrt(np.maximum(n_eff - 3.0, 1e-12))
    low, high = np.tanh(z - half), np.tanh(z + half)
    return np.clip(p, 0.0, 1.0), np.minimum(low, r), np.maximum(high, r)


def _cores() -> int:
    """Cores this process may run on (a container's CPU set, not the node's count), at
    most ``MAX_THREADS``: each chunk in flight holds about 140 MB at 15 lags."""
    try:
        return max(1, min(len(os.sched_getaffinity(0)), MAX_THREADS))
    except AttributeError:  # not on Linux
        return max(1, min(os.cpu_count() or 1, MAX_THREADS))


def lead_lag(values: np.ndarray, settings: EngineSettings) -> LeadLag:
    """Every test of ``values`` (patients, signals in ``SIGNALS`` order, days)."""
    if values.ndim != 3 or values.shape[0] == 0 or values.shape[2] == 0:
        raise ValidationError("nothing to analyse: no patient has a day of data")
    b_rows = [SIGNALS.index(b) for b in settings.biometrics]
    s_rows = [SIGNALS.index(s) for s in settings.symptoms]
    nb = len(b_rows)
    distance = min(ACF_MAX_LAG, max(values.shape[-1] - 1, 0)) if settings.autocorrelation else 0
    starts = range(0, max(values.shape[0], 1), CHUNK_PATIENTS)
    work = partial(
        _chunk,
        rows=b_rows + s_rows,
        method=settings.method,
        nb=nb,
        max_lag=settings.max_lag,
        distance=distance,
    )
    with ThreadPoolExecutor(max_workers=min(_cores(), len(starts))) as pool:
        parts = list(pool.map(lambda i: work(values[i : i + CHUNK_PATIENTS]), starts))
    sums = np.concatenate([p[0] for p in parts])
    n, sx, sy, sxx, syy, sxy = (sums[:, i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        cxx = sxx - sx**2 / n
        cyy = syy - sy**2 / n
        cxy = sxy - sx * sy / n
    tiny = 1e-9 * np.maximum(n, 1)
    constant = (cxx <= tiny) | (cyy <= tiny)  # no variation over these paired days
    if distance > 0:
        products = np.concatenate([p[2] for p in parts])
        counts = np.concatenate([p[3] for p in parts])
        own_rx, qx = _acf(products[:, :nb], counts[:, :nb], pooled=False)
        own_ry, qy = _acf(products[:, nb:], counts[:, nb:], pooled=False)
        pool_rx, _ = _acf(products[:, :nb], counts[:, :nb], pooled=True)
        pool_ry, _ = _acf(products[:, nb:], counts[:, nb:], pooled=True)
        own = inflation(own_rx, qx, own_ry, qy)[:, None]  # same for every lag
        pooled_factor = inflation(
            np.broadcast_to(pool_rx, qx.shape), qx, np.broadcast_to(pool_ry, qy.shape), qy
        )[:, None]
    else:
        own = pooled_factor = np.ones((values.shape[0], 1, nb, len(s_rows)))
    per_patient = _per_patient(n, cxx, cyy, cxy, constant, own, settings)
    pooled, patients, contributes = _pooled(n, cxx, cyy, cxy, constant, pooled_factor, settings)
    constant_series = np.concatenate([p[1] for p in parts])
    return LeadLag(settings, pooled, per_patient, patients, contributes, constant_series)


def _per_patient(n, cxx, cyy, cxy, constant, factor, settings) -> Tests:
    enough = n >= settings.min_pairs
    n_eff = np.minimum(n / factor, n)
    valid = enough & ~constant & (n_eff > 3.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(valid, cxy / np.sqrt(cxx * cyy), np.nan)
    p, low, high = _test(np.nan_to_num(r), np.where(valid, n_eff, 4.0), settings.confidence)
    p = np.where(valid, p, np.nan)
    patients = n.shape[0]
    q = bh_qvalues(p.reshape(patients, -1)).reshape(p.shape)
    reason = np.where(valid, 0, np.where(~enough | (n_eff <= 3.0), 1, 2)).astype(np.int8)
    return Tests(
        r,
        n,
        np.where(valid, n_eff, np.nan),
        p,
        q,
        np.where(valid, low, np.nan),
        np.where(valid, high, np.nan),
        valid,
        reason,
    )


def _pooled(n, cxx, cyy, cxy, constant, factor, settings):
    enters = (n >= MIN_POOLED_PAIRS) & ~constant
    cxx, cyy, cxy = (np.where(enters, a, 0.0) for a in (cxx, cyy, cxy))
    n_eff = np.clip(n / factor, 2.0, np.maximum(n, 2.0))
    sum_xx, sum_yy, sum_xy = cxx.sum(0), cyy.sum(0), cxy.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sum_xy / np.sqrt(sum_xx * sum_yy)
        variance = (cxx * cyy / (n_eff - 1.0)).sum(0) / (sum_xx * sum_yy)
        df = 1.0 / variance - 1.0
    pairs = np.where(enters, n, 0).sum(0)
    patients = enters.sum(0)
    valid = (patients >= 2) & np.isfinite(df) & (df > 1.0) & np.isfinite(r)
    effective = np.where(valid, np.minimum(df + 2.0, pairs), np.nan)
    p, low, high = _test(np.nan_to_num(r), np.where(valid, effective, 4.0), settings.confidence)
    p = np.where(valid, p, np.nan)
    q = bh_qvalues(p.reshape(-1)).reshape(p.shape)
    reason = np.where(valid, 0, 1).astype(np.int8)
    tests = Tests(
        np.where(valid, r, np.nan),
        pairs,
        effective,
        p,
        q,
        np.where(valid, low, np.nan),
        np.where(valid, high, np.nan),
        valid,
        reason,
    )
    return tests, patients, enters.any(axis=(1, 2, 3))
