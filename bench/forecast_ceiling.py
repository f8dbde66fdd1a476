"""How good can any forecast of the synthetic cohort be? An oracle that sees the hidden state.

The synthetic generator (``infrastructure/synthetic/dynamics.py``) knows each patient's
latent symptom trend, treatment-driven target and standardized biometric deviations.
An oracle that is handed those at the forecast origin predicts the conditional mean of
the next days' mood exactly; what is left is the noise no model can see (the trend's
future innovations, future biometric shocks, observation noise and rounding). Its MAE,
divided by seasonal naive's on the very windows the pipeline evaluates (same grid, same
split, same metric code), is a floor for the ensemble's MASE ratio: no model trained on
the observed data can beat it.

    .venv/bin/python bench/forecast_ceiling.py --patients 1000 --days 365

Writes ``bench/results/forecast_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from novamind_core.families.forecasting import baselines, training
from novamind_core.families.forecasting.imputation import KEY
from novamind_core.families.forecasting.metrics import horizon_metrics, seasonal_scale
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.infrastructure.synthetic import cohort, dynamics

RESULTS = Path(__file__).parent / "results" / "forecast_ceiling.json"


def _generate_with_latents(config: cohort.CohortConfig):
    """Run the generator, keeping the latent PHQ-9 trend, its target and the biometric z."""
    captured: dict[str, list[np.ndarray]] = {"trend": [], "target": []}
    original_trend, original_simulate = dynamics._trend, dynamics.simulate
    states = []

    def trend(rng, target):
        out = original_trend(rng, target)
        captured["trend"].append(out)
        captured["target"].append(target)
        return out

    def simulate(*args, **kwargs):
        state = original_simulate(*args, **kwargs)
        states.append(state)
        return state

    dynamics._trend, dynamics.simulate = trend, simulate
    cohort.dynamics.simulate = simulate
    try:
        synthetic = cohort.generate(config)
    finally:
        dynamics._trend, dynamics.simulate = original_trend, original_simulate
        cohort.dynamics.simulate = original_simulate
    # _trend runs for PHQ-9 first, then GAD-7; mood depends on PHQ-9 only
    return synthetic, captured["trend"][0], captured["target"][0], states[0].z


def oracle_mood(trend, target, z, patient, origin, horizon) -> np.ndarray:
    """E[mood(origin + h) | hidden state up to the origin], h = 1..horizon."""
    ar, phi = dynamics.SYMPTOM_TREND_AR, dynamics.BIOMETRIC_AR
    level = trend[patient, origin]
    out = np.empty((len(patient), horizon))
    for h in range(1, horizon + 1):
        day = np.minimum(origin + h, target.shape[1] - 1)
        level = ar * level + (1 - ar) * target[patient, day]
        phq = level.copy()
        for biometric, symptom, lag, beta in dynamics.LEADS:
            if symptom != "phq9":
                continue
            ahead = h - lag  # days from the origin to the biometric day that acts
            known = np.where(ahead <= 0, 1.0, phi ** np.maximum(ahead, 0))
            source = origin + np.minimum(ahead, 0)
            phq += beta * known * z[biometric][patient, source]
        out[:, h - 1] = dynamics.MOOD_INTERCEPT + dynamics.MOOD_SLOPE * phq
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--horizon", type=int, default=7)
    args = parser.parse_args()

    config = cohort.CohortConfig(patients=args.patients, days=args.days)
    synthetic, trend, target, z = _generate_with_latents(config)
    ids = synthetic.tables["patients"]["patient_id"].to_numpy()
    index = {pid: i for i, pid in enumerate(ids)}
    observations = synthetic.tables["symptom_observations"].rename(columns={"patient_id": KEY})
    biometrics = synthetic.tables["biometrics"].rename(columns={"patient_id": KEY})
    spec = ForecastSpec.for_run("mood", args.horizon, seed=7)
    grid, _, _ = training.impute(observations, biometrics, spec)
    prepared = training.prepare(grid, training.split(grid, spec), spec)
    start = pd.Timestamp(config.start_date)
    low, high = spec.score_range
    report: dict = {"patients": args.patients, "days": args.days, "horizon": args.horizon}
    for part in ("test", "heldout"):
        w = prepared.windows[part]
        patient = np.array([index[k] for k in w.keys])
        origin = ((pd.DatetimeIndex(w.origin) - start).days).to_numpy()
        mean = np.clip(oracle_mood(trend, target, z, patient, origin, args.horizon), low, high)
        scale = seasonal_scale(w.history, w.history_observed)
        naive = horizon_metrics(
            w.target, w.target_observed, baselines.seasonal_naive(w.history, args.horizon), scale
        )["mae"]
        rows = {}
        for name, forecast in (("oracle_mean", mean), ("oracle_rounded", np.round(mean))):
            mae = horizon_metrics(w.target, w.target_observed, forecast, scale)["mae"]
            rows[name] = [round(a / b, 3) for a, b in zip(mae, naive, strict=True)]
        report[part] = {"windows": len(w), "ratio_to_seasonal_naive": rows}
        print(part, len(w), "windows")
        for name, ratios in rows.items():
            print(f"  {name:15s}", " ".join(f"{r:.3f}" for r in ratios))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
