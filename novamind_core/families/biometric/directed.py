"""Directed relations: does a biometric ``L`` days earlier predict a symptom beyond the
symptom's own past? A Granger-style conditional test for irregular panels.

For each biometric × symptom × lag, the rows are the days ``t`` where the symptom was
reported, the biometric was recorded on day ``t − L``, and the symptom had been reported
before within ``PAST_DAYS`` (its most recent earlier value: an observation, never an
imputed one). The regression

    symptom(t) = a_patient + β · biometric(t − L) + γ · symptom(previous report) + e

has a fixed effect per patient (within transformation), so it compares a patient with
themself; β's standard error is cluster-robust by patient (statsmodels OLS,
``cov_type="cluster"``, t at G − 1 degrees of freedom), which holds whatever the
autocorrelation inside a patient. Below five patients (a single patient's analysis) it
is Newey–West (HAC). Lag 0
is a same-day relation given the past, not a precedence in time: the table says which.
An edge is a pair's lag with the smallest q-value, when that q is at most the analysis's
false discovery rate *and* the lead–lag test of the same pair and lag is significant too
(both procedures control the false discovery rate; asking both keeps a chance finding of
one from becoming an arrow); its strength is the partial correlation of symptom and
biometric given the symptom's past (from the residuals; the robust t gives the p-value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from novamind_core.families.biometric.engine import EngineSettings, bh_qvalues
from novamind_core.families.biometric.signals import SIGNALS

PAST_DAYS = 14  # how far back the symptom's previous report may lie
MIN_ROWS = 10
MIN_CLUSTERS = 5  # fewer patients: Newey–West (HAC) standard errors instead


@dataclass(frozen=True)
class DirectedTests:
    table: pd.DataFrame  # one row per biometric × symptom × lag tested
    edges: pd.DataFrame  # the significant edges, strongest first


def _previous(y: np.ndarray, observed: np.ndarray):
    """The most recent earlier observed value of each day's series and whether it lies
    within ``PAST_DAYS``."""
    days = np.arange(y.shape[-1])
    seen = np.where(observed, days, -1)
    last = np.maximum.accumulate(seen, axis=-1)
    before = np.concatenate([np.full((*last.shape[:-1], 1), -1), last[..., :-1]], axis=-1)
    ok = (before >= 0) & (days - before <= PAST_DAYS)
    value = np.take_along_axis(y, np.maximum(before, 0), axis=-1)
    return np.where(ok, value, np.nan), ok


def _within(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    sums = np.bincount(groups, weights=values, minlength=count)
    sizes = np.bincount(groups, minlength=count)
    return values - (sums / np.maximum(sizes, 1))[groups]


def _fit(y, x, past, groups):
    """(t, p, df) of β, or None when the rows cannot support the test. Patient fixed
    effects by the within transformation (for one patient: its mean, an intercept);
    standard errors cluster-robust by patient from ``MIN_CLUSTERS`` patients on,
    Newey–West (HAC) below that (meant for one patient: with two to four, its lag window
    spans the joins between patients — the cohort pipeline needs ten)."""
    import statsmodels.api as sm

    if len(y) < MIN_ROWS:
        return None
    codes, groups = np.unique(groups, return_inverse=True)
    count = len(codes)
    design = np.column_stack([_within(x, groups, count), _within(past, groups, count)])
    target = _within(y, groups, count)
    df = len(y) - count - 2
    if df < 3 or np.ptp(design[:, 0]) == 0 or np.ptp(target) == 0:
        return None
    if count >= MIN_CLUSTERS:
        kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": groups}, "use_t": True}
    else:
        lags = int(np.floor(4 * (len(y) / 100) ** (2 / 9)))
        kwargs = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags}, "use_t": True}
    fit = sm.OLS(target, design).fit(**kwargs)
    t, p = float(fit.tvalues[0]), float(fit.pvalues[0])
    if not (np.isfinite(t) and np.isfinite(p)):
        return None
    return t, p, df, _partial_correlation(target, design)


def _partial_correlation(target: np.ndarray, design: np.ndarray) -> float:
    """The correlation of the symptom and the biometric once both are freed of the
    symptom's past (Frisch–Waugh–Lovell on the within-transformed columns)."""
    past = design[:, 1:]
    coef_y = np.linalg.lstsq(past, target, rcond=None)[0]
    coef_x = np.linalg.lstsq(past, design[:, 0], rcond=None)[0]
    ry, rx = target - past @ coef_y, design[:, 0] - past @ coef_x
    scale = np.sqrt((rx @ rx) * (ry @ ry))
    return float(np.clip(rx @ ry / scale, -1.0, 1.0)) if scale > 0 else 0.0


def directed_tests(
    values: np.ndarray, settings: EngineSettings, associated: set | None = None
) -> DirectedTests:
    """Every conditional test of ``values`` (patients, signals, days), with BH q-values
    over all of them, and the edges they support; ``associated``: the (biometric,
    symptom, lag) whose lead–lag test was significant (None: do not ask)."""
    rows = []
    for symptom in settings.symptoms:
        y = values[:, SIGNALS.index(symptom)]
        oy = ~np.isnan(y)
        past, past_ok = _previous(y, oy)
        for biometric in settings.biometrics:
            x = values[:, SIGNALS.index(biometric)]
            for lag in range(settings.max_lag + 1):
                shifted = np.full_like(x, np.nan)
                if lag < x.shape[1]:  # a history shorter than the lag pairs nothing
                    shifted[:, lag:] = x[:, : x.shape[1] - lag]
                use = oy & past_ok & ~np.isnan(shifted)
                p_idx, _ = np.nonzero(use)
                result = _fit(y[use], shifted[use], past[use], p_idx)
                row = {"biometric": biometric, "symptom": symptom, "lag_days": lag}
                row["n_obs"] = int(use.sum())
                if result is None:
                    rows.append({**row, "strength": np.nan, "p_value": np.nan, "t": np.nan})
                    continue
                t, p, _, strength = result
                rows.append({**row, "strength": strength, "p_value": p, "t": t})
    table = pd.DataFrame(rows)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    table["significant"] = table["q_value"] <= settings.fdr
    table["relation"] = np.where(table["lag_days"] == 0, "same day, given the past", "precedes")
    keys = zip(table["biometric"], table["symptom"], table["lag_days"], strict=True)
    table["associated"] = [associated is None or key in associated for key in keys]
    best = (
        table[table["significant"] & table["associated"]]
        .sort_values(["q_value", "p_value"])
        .drop_duplicates(["biometric", "symptom"])
    )
    edges = best.assign(order=-best["strength"].abs()).sort_values("order").drop(columns="order")
    return DirectedTests(table, edges.reset_index(drop=True))
