"""The lead–lag engine at scale, beside a straightforward per-pair, per-lag scipy loop.

    python bench/correlation_benchmark.py [--patients 10000] [--days 365] [--max-lag 14]
        [--loop-patients 40] [--out bench/results/correlation.json]

The cohort is made here in arrays (no store, no alignment: the engine is what is
measured): 4 biometrics, 3 symptoms, AR(1) days with the synthetic cohort's gaps
(wearables on ~95% of days, mood on ~2/3, PHQ-9 and GAD-7 weekly). The engine computes
every per-patient test (with its q-values) and every pooled test. The loop does the same
per-patient work the obvious way — per patient, pair and lag: select the paired days,
``scipy.stats.pearsonr``, each series' autocorrelation, the effective sample size, the
t-test and the Fisher interval — on a subsample, and is extrapolated linearly in
patients. Both run in this process, one after the other; the engine's peak memory is
measured in a child process (its own ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novamind_core.families.biometric.engine import (
    ACF_MAX_LAG,
    MIN_ACF_PAIRS,
    EngineSettings,
    lead_lag,
)
from novamind_core.families.biometric.signals import SIGNALS


def cohort(patients: int, days: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.empty((patients, len(SIGNALS), days))
    values[:, :, 0] = rng.standard_normal((patients, len(SIGNALS)))
    phi = np.array([0.35, 0.35, 0.35, 0.35, 0.9, 0.9, 0.9])[None, :]
    noise = rng.standard_normal(values.shape) * np.sqrt(1 - phi**2)[..., None]
    for t in range(1, days):
        values[:, :, t] = phi * values[:, :, t - 1] + noise[:, :, t]
    recorded = np.ones(values.shape, dtype=bool)
    recorded[:, :4] = rng.random((patients, 4, days)) < 0.95
    recorded[:, 6] = rng.random((patients, days)) < 0.67
    weekly = (np.arange(days)[None, :] - rng.integers(0, 7, (patients, 1))) % 7 == 0
    recorded[:, 4] = recorded[:, 5] = weekly
    values[~recorded] = np.nan
    return values


def engine_run(patients: int, days: int, max_lag: int) -> dict:
    values = cohort(patients, days)
    settings = EngineSettings(max_lag=max_lag)
    started = time.perf_counter()
    result = lead_lag(values, settings)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "per_patient_tests": int(result.per_patient.valid.sum()),
        "pooled_tests": int(result.pooled.valid.sum()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "input_mib": values.nbytes / 2**20,
    }


def _acf(series: np.ndarray, distance: int):
    """ρ(d) and q(d) of one series, the plain way (pairs of recorded days)."""
    recorded = ~np.isnan(series)
    z = series[recorded]
    z = (series - z.mean()) / z.std()
    rho, q = np.zeros(distance), np.zeros(distance)
    for d in range(1, distance + 1):
        both = recorded[:-d] & recorded[d:]
        q[d - 1] = both.sum() / max(recorded.sum(), 1)
        if both.sum() >= MIN_ACF_PAIRS:
            rho[d - 1] = np.clip(np.mean(z[:-d][both] * z[d:][both]), -1, 1)
    return rho, q


def loop_run(values: np.ndarray, settings: EngineSettings) -> tuple[float, np.ndarray]:
    """Per patient, pair and lag with scipy: the r of every computed test, and seconds."""
    started = time.perf_counter()
    nb = len(settings.biometrics)
    rs = np.full((values.shape[0], settings.max_lag + 1, nb, 3), np.nan)
    distance = min(ACF_MAX_LAG, values.shape[-1] - 1)
    for p in range(values.shape[0]):
        acfs = [_acf(values[p, v], distance) for v in range(len(SIGNALS))]
        for b in range(nb):
            for s in range(3):
                rx, qx = acfs[b]
                ry, qy = acfs[nb + s]
                factor = max(1 + 2 * np.sum(qx * qy * rx * ry), 1.0)
                for lag in range(settings.max_lag + 1):
                    x = values[p, b, : values.shape[-1] - lag]
                    y = values[p, nb + s, lag:]
                    both = ~np.isnan(x) & ~np.isnan(y)
                    n = int(both.sum())
                    if n < settings.min_pairs or np.ptp(x[both]) == 0 or np.ptp(y[both]) == 0:
                        continue
                    r, _ = stats.pearsonr(x[both], y[both])
                    n_eff = min(n / factor, n)
                    if n_eff <= 3:
                        continue
                    t = r * np.sqrt((n_eff - 2) / (1 - r * r))
                    _p = 2 * stats.t.sf(abs(t), n_eff - 2)
                    half = stats.norm.ppf(0.975) / np.sqrt(n_eff - 3)
                    _ci = np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)
                    rs[p, lag, b, s] = r
    return time.perf_counter() - started, rs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--max-lag", type=int, default=14)
    parser.add_argument("--loop-patients", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("bench/results/correlation.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(engine_run(args.patients, args.days, args.max_lag)))
        return
    print(f"engine: {args.patients:,} patients × {args.days} days × lags 0–{args.max_lag} ...")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--patients",
            str(args.patients),
            "--days",
            str(args.days),
            "--max-lag",
            str(args.max_lag),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    engine = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"  {engine['seconds']:.2f} s, peak RSS {engine['peak_rss_mib']:.0f} MiB "
        f"({engine['per_patient_tests']:,} per-patient tests, {engine['pooled_tests']} pooled)"
    )
    settings = EngineSettings(max_lag=args.max_lag)
    sample = cohort(args.patients, args.days)[: args.loop_patients]
    started = time.perf_counter()
    same = lead_lag(sample, settings)
    engine_sample = time.perf_counter() - started
    print(f"scipy loop over {args.loop_patients} patients ...")
    loop_seconds, loop_r = loop_run(sample, settings)
    agree = np.nanmax(np.abs(loop_r - same.per_patient.r))
    extrapolated = loop_seconds * args.patients / args.loop_patients
    ratio = extrapolated / engine["seconds"]
    print(
        f"  {loop_seconds:.2f} s → {extrapolated:,.0f} s for {args.patients:,} patients; "
        f"engine is {ratio:,.0f}× faster; largest |Δr| {agree:.1e}"
    )
    result = {
        "patients": args.patients,
        "days": args.days,
        "max_lag": args.max_lag,
        "biometrics": 4,
        "symptoms": 3,
        "engine": engine,
        "engine_on_loop_sample_seconds": engine_sample,
        "loop_patients": args.loop_patients,
        "loop_seconds": loop_seconds,
        "loop_extrapolated_seconds": extrapolated,
        "speedup": ratio,
        "largest_r_difference": float(agree),
        "same_tests": bool(np.array_equal(~np.isnan(loop_r), same.per_patient.valid)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
