"""Benchmark: effect of 16-bit post-training quantization of the Transformer.

Trains the forecaster in-process on a synthetic cohort (default 300 patients x 365 days),
then compares float32, float16 and bfloat16 copies of the same Transformer: accuracy
(MASE, coverage) on test and held-out windows, inference time for those windows, and
the size of the saved weights. The ensemble weights and intervals are those fitted for
float32, so the figures show what quantization alone changes.

    .venv/bin/python bench/quantization_benchmark.py [--patients 300]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from novamind_core.application.deidentify import deidentify
from novamind_core.families.forecasting import training, transformer
from novamind_core.families.forecasting.metrics import horizon_metrics, seasonal_scale
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

RESULTS = Path(__file__).parent / "results" / "quantization.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    options = parser.parse_args()
    cohort = generate(CohortConfig(patients=options.patients, days=365, seed=11))
    tables = deidentify(cohort.tables, HmacPseudonymizer(b"b" * 32), date(2025, 12, 31))
    spec = ForecastSpec()
    grid, fill, _ = training.impute(tables["symptom_observations"], tables["biometrics"], spec)
    prepared = training.prepare(grid, training.split(grid, spec), spec)
    config, model, _ = training.train_transformer(prepared, spec, 5, 2, 2)
    _, xgb_models, _, _ = training.tune_xgboost(prepared, spec, 8, None, "quantization")
    bundle = training.fit_ensemble(prepared, spec, fill, config, model, xgb_models, True)
    full = bundle.model
    report = {"patients": options.patients, "results": {}}
    for precision in transformer.PRECISIONS:
        bundle.model = transformer.with_precision(full, precision)
        buffer = io.BytesIO()
        torch.save(bundle.model.state_dict(), buffer)
        entry = {"weights_bytes": buffer.getbuffer().nbytes}
        for part in ("test", "heldout"):
            w = prepared.windows[part]
            scale = seasonal_scale(w.history, w.history_observed)
            started = time.perf_counter()
            tq = bundle.transformer_quantiles(w)
            seconds = time.perf_counter() - started
            f = bundle.forecast(w)
            ens = horizon_metrics(w.target, w.target_observed, f.median, scale, f.lower, f.upper)
            solo = horizon_metrics(w.target, w.target_observed, tq[..., 1], scale)
            entry[part] = {
                "windows": len(w),
                "transformer_seconds": round(seconds, 3),
                "transformer_mase_mean": round(float(np.nanmean(solo["mase"])), 4),
                "ensemble_mase_mean": round(float(np.nanmean(ens["mase"])), 4),
                "ensemble_coverage_mean": round(float(np.nanmean(ens["coverage"])), 4),
            }
        report["results"][precision] = entry
        print(precision, json.dumps(entry))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
