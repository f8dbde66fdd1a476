"""Benchmark: the biometric-correlation pipeline (the engine and the four symptom
predictors) on the KFP local runner, at 1,000 patients × 365 days by default.

Synthesize, ingest, then `novamind pipeline run biometric-correlation` with default
settings. Wall time and peak RSS of the whole process tree (sampled every 0.5 s) for
the run; per model, its training time, epochs and its own process's peak RSS, and
held-out accuracy beside the baselines, from the evaluation registered with the version.
Results: bench/results/correlation_pipeline.json and a printed table.

    .venv/bin/python bench/correlation_pipeline_benchmark.py [--patients 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_benchmark import run_measured

RESULTS = Path(__file__).parent / "results" / "correlation_pipeline.json"


def registered(env: dict) -> dict:
    code = (
        "import json, mlflow; from mlflow.tracking import MlflowClient;"
        "mlflow.set_tracking_uri(__import__('os').environ['MLFLOW_TRACKING_URI']);"
        "c = MlflowClient(); v = max(c.search_model_versions(\"name='biometric-correlator'\"),"
        " key=lambda v: int(v.version));"
        "p = c.download_artifacts(v.run_id, 'predictors/predictors.json');"
        "print(json.dumps({'version': v.version, 'tags': v.tags,"
        " 'predictors': json.load(open(p))}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="novamind-correlation-"))
    (work / "mlruns").mkdir()
    env = dict(os.environ) | {
        "NOVAMIND_DATA_DIR": str(work / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "NOVAMIND_LOG_LEVEL": "WARNING",
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
    }
    cli = [sys.executable, "-m", "novamind_core.cli"]
    raw = str(work / "raw")
    synth = [*cli, "data", "synth", "--out", raw, "--patients", str(options.patients)]
    run_measured([*synth, "--days", str(options.days)], env, work)
    run_measured([*cli, "data", "ingest", raw], env, work)
    figures = run_measured([*cli, "pipeline", "run", "biometric-correlation"], env, work)
    result = registered(env)
    predictors = result["predictors"]
    report = {
        "patients": options.patients,
        "days": options.days,
        "cpu_count": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "pipeline": figures,
        "model_version": result["version"],
        "gates": {k: v for k, v in result["tags"].items() if k.startswith("gate.")},
        "selected": predictors["selected"],
        "training": predictors["training"],
        "windows": predictors["windows"],
        "test": {
            model: {
                "mean_mase": round(m["mean_mase"], 4),
                **{
                    s: {
                        "mean_mase": round(m[s]["mean_mase"], 4),
                        "mae_by_horizon": [round(x, 3) for x in m[s]["mae"]],
                        "mase_by_horizon": [round(x, 3) for x in m[s]["mase"]],
                        **(
                            {"coverage_80": round(sum(m[s]["coverage"]) / len(m[s]["coverage"]), 3)}
                            if "coverage" in m[s]
                            else {}
                        ),
                    }
                    for s in ("phq9", "gad7", "mood")
                },
            }
            for model, m in predictors["test"].items()
        },
        "verdict": predictors["verdict"],
        "extras": predictors["extras"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{options.patients} patients × {options.days} days: pipeline {figures['seconds']} s, "
        f"peak RSS {figures['peak_rss_mib']} MiB; served: {report['selected']}; "
        f"gates {report['gates']}"
    )
    for name, t in report["training"].items():
        print(
            f"  {name:8s} {t['training_seconds']:>7} s  {t['epochs']} epochs  "
            f"{t['peak_rss_mib']} MiB"
        )
    print(f"  {'model':15s} {'phq9':>7s} {'gad7':>7s} {'mood':>7s} {'mean':>7s}  (test MASE)")
    for model, m in sorted(report["test"].items(), key=lambda item: item[1]["mean_mase"]):
        row = " ".join(f"{m[s]['mean_mase']:7.3f}" for s in ("phq9", "gad7", "mood"))
        print(f"  {model:15s} {row} {m['mean_mase']:7.3f}")
    for line in report["verdict"]:
        print("  " + line)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
