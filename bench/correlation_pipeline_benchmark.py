"""Benchmark: the biometric-correlation pipeline (the engine and the four symptom
predictors) on the KFP local runner, at 1,000 patients × 365 days by default.

Synthesize, ingest, then `novamind pipeline run biometric-correlation` with default
settings. Wall time and peak RSS of the whole process tree (sampled every 0.5 s) for
the run; per model, its training time, epochs and its own process's peak RSS, and
held-out accuracy beside the baselines, from the evaluation registered with the version.
Results: bench/results/correlation_pipeline.json and a printed table.

Then the registered version is approved and served (`novamind serve --model
biometric-correlator`) and V1 requests of one patient's 60-day history (the full answer:
every lead–lag test, the directed edges, the 21 forecasts and their temporal patterns)
are sent at 1 and 32 clients (closed loop): p50/p95/p99 latency and throughput, into
bench/results/correlator_serving.json. ``--serve-only DIR`` serves the run kept in DIR.

    .venv/bin/python bench/correlation_pipeline_benchmark.py [--patients 1000] [--days 365]
        [--serve-only DIR] [--seconds 12] [--concurrency 1 32]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_benchmark import run_measured

RESULTS = Path(__file__).parent / "results" / "correlation_pipeline.json"
SERVING = Path(__file__).parent / "results" / "correlator_serving.json"
MODEL = "biometric-correlator"
SECRET = "c" * 48


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


def environment(work: Path) -> dict:
    keys = work / "keys.json"  # kept so that --serve-only can read the run's store
    if not keys.exists():
        keys.write_text(
            json.dumps(
                {
                    name: base64.urlsafe_b64encode(os.urandom(32)).decode()
                    for name in ("NOVAMIND_ENCRYPTION_KEY", "NOVAMIND_AUDIT_KEY")
                }
            )
        )
    return (
        dict(os.environ)
        | json.loads(keys.read_text())
        | {
            "NOVAMIND_DATA_DIR": str(work / "data"),
            "NOVAMIND_LOG_LEVEL": "WARNING",
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
        }
    )


def request_body(days: int = 60) -> dict:
    from novamind_core.families.biometric.pyfunc import input_example

    frame = input_example(days)
    rows = []
    for record in frame.drop(columns=["patient_key"]).to_dict("records"):
        day = record.pop("day")
        rows.append(
            {"day": str(day.date()), **{k: v for k, v in record.items() if v == v}}
        )  # NaN (a day without a questionnaire) is left out
    return {"instances": [{"patient_key": "p_" + "b" * 24, "history": rows}]}


def serve(work: Path, options) -> dict:
    """Approve the latest version, serve it, measure V1 latency at each concurrency."""
    import shutil

    from bench.serving_benchmark import free_port, measure_cell, wait_ready
    from tests.support.approvals import approval_keys, sign_approval

    public, pem = approval_keys(work / "reviewer")
    env = environment(work) | {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "NOVAMIND_JWT_SECRET": SECRET,
    }
    os.environ.update(env)
    from mlflow.tracking import MlflowClient

    from novamind_core.domain.security import Role
    from novamind_core.infrastructure.security.tokens import TokenService

    client = MlflowClient()
    version = max(client.search_model_versions(f"name='{MODEL}'"), key=lambda v: int(v.version))
    sign_approval(pem, MODEL, version.version)
    client.set_registered_model_alias(MODEL, "champion", version.version)
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", "2", "--model", MODEL],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "serve.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict"
    headers = {"Authorization": f"Bearer {TokenService(SECRET).mint('bench', [Role.SERVICE])}"}
    samples = [request_body()]
    loadgens = ["wrk", "aiohttp"] if shutil.which("wrk") else ["aiohttp"]
    report = {
        "model_version": version.version,
        "predictor": version.tags.get("predictor"),
        "history_days": 60,
        "runs": [],
    }
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
        for clients in options.concurrency:
            for loadgen in loadgens:
                cell = measure_cell(
                    url, samples, clients, loadgen, options.seconds, headers, server.pid
                )
                entry = {"clients": clients, "loadgen": loadgen, **cell}
                report["runs"].append(entry)
                print(json.dumps(entry), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    SERVING.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {SERVING}")
    return report


CLI = [sys.executable, "-m", "novamind_core.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--serve-only", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    options = parser.parse_args()
    if options.serve_only is not None:
        serve(options.serve_only, options)
        return
    work = Path(tempfile.mkdtemp(prefix="novamind-correlation-"))
    (work / "mlruns").mkdir()
    env = environment(work)
    cli = CLI
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
    serve(work, options)


if __name__ == "__main__":
    main()
