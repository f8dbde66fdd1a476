"""Benchmark: the symptom-forecasting pipeline at several cohort sizes.

For each size: synthesize (365 days), ingest, then `novamind pipeline run
symptom-forecasting` with default settings on the KFP local runner. Wall time and peak
resident memory of the whole process tree (sampled every 0.5 s) are measured for the
pipeline run; accuracy per horizon on held-out patients comes from the evaluation the
pipeline logged to MLflow. Results: bench/results/pipeline.json and a printed table.

    .venv/bin/python bench/pipeline_benchmark.py [--sizes 200 1000 5000] [--days 365]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results" / "pipeline.json"


def run_measured(args: list[str], env: dict, cwd: Path) -> dict:
    """Run a command; wall time and peak RSS summed over its process tree."""
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[3:])} failed:\n{output[-4000:]}")
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mib": round(peak / 2**20)}


def evaluation_of_latest(env: dict) -> dict:
    code = (
        "import json, mlflow; from mlflow.tracking import MlflowClient;"
        "mlflow.set_tracking_uri(__import__('os').environ['MLFLOW_TRACKING_URI']);"
        "c = MlflowClient(); v = max(c.search_model_versions(\"name='symptom-forecaster'\"),"
        " key=lambda v: int(v.version));"
        "p = c.download_artifacts(v.run_id, 'evaluation.json');"
        "print(json.dumps({'version': v.version, 'tags': v.tags,"
        " 'evaluation': json.load(open(p))}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--days", type=int, default=365)
    options = parser.parse_args()
    report = {"days": options.days, "cpu_count": os.cpu_count(), "runs": []}
    if RESULTS.exists():  # keep earlier sizes' results; a size measured again replaces its own
        earlier = json.loads(RESULTS.read_text())
        if earlier.get("days") == options.days:
            report["runs"] = [r for r in earlier["runs"] if r["patients"] not in options.sizes]
    cli = [sys.executable, "-m", "novamind_core.cli"]
    for size in options.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"novamind-pipeline-{size}-"))
        (work / "mlruns").mkdir()
        env = dict(os.environ) | {
            "NOVAMIND_DATA_DIR": str(work / "data"),
            "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "NOVAMIND_LOG_LEVEL": "WARNING",
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
        }
        raw = str(work / "raw")
        run_measured(
            [
                *cli,
                "data",
                "synth",
                "--out",
                raw,
                "--patients",
                str(size),
                "--days",
                str(options.days),
            ],
            env,
            work,
        )
        run_measured([*cli, "data", "ingest", raw], env, work)
        figures = run_measured([*cli, "pipeline", "run", "symptom-forecasting"], env, work)
        result = evaluation_of_latest(env)
        heldout = result["evaluation"]["heldout"]["models"]
        entry = {
            "patients": size,
            "pipeline": figures,
            "model_version": result["version"],
            "gates": {k: v for k, v in result["tags"].items() if k.startswith("gate.")},
            "heldout_mase": {m: [round(x, 3) for x in v["mase"]] for m, v in heldout.items()},
            "heldout_coverage": [round(x, 3) for x in heldout["ensemble"]["coverage"]],
        }
        report["runs"] = sorted([*report["runs"], entry], key=lambda r: r["patients"])
        print(
            f"{size:>6} patients: {figures['seconds']:7.1f} s, peak RSS "
            f"{figures['peak_rss_mib']} MiB, gates {entry['gates']}"
        )
        for model, values in entry["heldout_mase"].items():
            print(f"         {model:15s} MASE by horizon {values}")
        print(f"         ensemble coverage by horizon {entry['heldout_coverage']}")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
