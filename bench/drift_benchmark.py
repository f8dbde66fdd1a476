"""Benchmark: drift check time and memory for 10,000 and 100,000 logged payloads, and the
detector's behaviour on the synthetic cohort (false alarms over 20 seeds, injected shifts).

Set-up (not timed): a small forecaster is trained; its drift reference is built from a
200-patient cohort and registered with a model version in a private MLflow store
(SQLite); the encrypted payload log is filled with N rows of served-traffic features and
forecasts drawn from cohorts of other seeds. Timed: `novamind monitor drift` as a child
process, end to end (imports, reading and decrypting the log, Evidently report with tests,
HTML and JSON, MLflow run and tags); peak RSS of that process.

    .venv/bin/python bench/drift_benchmark.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from novamind_core.application.deidentify import deidentify  # noqa: E402
from novamind_core.application.monitor_drift import check_drift  # noqa: E402
from novamind_core.domain.drift import DriftStatus  # noqa: E402
from novamind_core.families.forecasting import training  # noqa: E402
from novamind_core.families.forecasting.drift import (  # noqa: E402
    MONITORED_FEATURES,
    build_reference,
)
from novamind_core.infrastructure.monitoring.drift_policy import load_policy  # noqa: E402
from novamind_core.infrastructure.monitoring.drift_reference import write_reference  # noqa: E402
from novamind_core.infrastructure.monitoring.evidently_drift import (  # noqa: E402
    EvidentlyDriftDetector,
)
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer  # noqa: E402
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate  # noqa: E402
from tests.support.fakes import FakeReferences, FakeRegistry  # noqa: E402
from tests.support.tiny_forecaster import train_tiny_bundle  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "drift.json"
KEY = bytes(range(32))
NAME = "symptom-forecaster"


def traffic(bundle, seed, rows, shift=None, patients=200):
    cohort = generate(CohortConfig(patients=patients, days=150, seed=seed))
    tables = deidentify(cohort.tables, HmacPseudonymizer(KEY), date(2025, 12, 31))
    bio = tables["biometrics"] if shift is None else shift(tables["biometrics"].copy())
    grid, _, _ = training.impute(tables["symptom_observations"], bio, bundle.spec)
    return build_reference(bundle, grid, training.split(grid, bundle.spec), rows, seed)


def behaviour(bundle, reference) -> dict:
    """False alarms over 20 unshifted seeds; scores of two injected shifts."""
    policy, detector = load_policy(MONITORED_FEATURES), EvidentlyDriftDetector()

    def judge(current):
        result, _ = check_drift(
            NAME,
            FakeRegistry.with_champion("1"),
            FakeReferences({(NAME, "1"): reference}),
            detector,
            lambda v: current,
            policy,
        )
        return result

    nulls = [judge(traffic(bundle, seed, 300)) for seed in range(100, 120)]
    shifts = {
        "heart_rate_x1.15": lambda b: b.assign(heart_rate_bpm=b["heart_rate_bpm"] * 1.15),
        "sleep_in_minutes": lambda b: b.assign(sleep_hours=b["sleep_hours"] * 60),
    }
    detected = {}
    for label, shift in shifts.items():
        result = judge(traffic(bundle, 5, 300, shift))
        detected[label] = {
            "status": result.status.value,
            "drifted": result.drifted,
            "scores": {c.column: round(c.score, 3) for c in result.columns if c.judged},
        }
    return {
        "null_seeds": 20,
        "payloads_per_seed": 300,
        "false_alarms": sum(r.status is DriftStatus.DRIFT for r in nulls),
        "null_largest_score": round(max(c.score for r in nulls for c in r.columns if c.judged), 3),
        "null_no_drift_verdicts": sum(r.status is DriftStatus.NO_DRIFT for r in nulls),
        "shifts": detected,
    }


def register(tmp: Path, reference: pd.DataFrame) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
    env |= {
        "NOVAMIND_DATA_DIR": str(tmp / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(b"a" * 32).decode(),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "NOVAMIND_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import mlflow
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.registry.tracking import configure
    from novamind_core.infrastructure.settings import get_settings

    get_settings.cache_clear()
    configure("drift-benchmark")
    client = MlflowClient()
    client.create_registered_model(NAME)
    with mlflow.start_run() as run:
        write_reference(reference, tmp / "ref", KEY, NAME, "1")
        mlflow.log_artifacts(str(tmp / "ref"), "drift_reference")
    client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(NAME, "champion", "1")
    return env


def fill_log(tmp: Path, pool: pd.DataFrame, rows: int, seed: int) -> None:
    import shutil

    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    shutil.rmtree(tmp / "data" / "payloads", ignore_errors=True)
    picked = pool.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    picked["logged_at"] = pd.Timestamp.now()
    picked["patient_key"] = [f"{i:064x}" for i in range(rows)]
    picked["model_version"] = "1"
    log = PayloadLog(tmp / "data", NAME, KEY)
    for start in range(0, rows, 5000):  # the server's chunk size
        log.append(picked.iloc[start : start + 5000].to_dict("records"))
        log.flush()


def timed_check(env: dict[str, str], tmp: Path) -> dict:
    """Wall time and peak RSS (sampled every 20 ms) of one `novamind monitor drift`."""
    import psutil

    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "novamind_core.cli", "monitor", "drift", "--exit-zero"],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    output = child.stdout.read()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(output[-3000:])
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak / 2**20),
        "report_html_mib": round(
            (tmp / "data" / "drift" / NAME / "drift_report.html").stat().st_size / 2**20, 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bundle, _, _ = train_tiny_bundle(tmp / "bundle", KEY)
        reference = traffic(bundle, 11, 5000)
        report = {"reference_rows": len(reference), "behaviour": behaviour(bundle, reference)}
        print(json.dumps(report["behaviour"], indent=2))
        pool = pd.concat([traffic(bundle, s, 5000) for s in (21, 22, 23)], ignore_index=True)
        env = register(tmp, reference)
        report["checks"] = {}
        for rows in options.sizes:
            fill_log(tmp, pool, rows, seed=rows)
            report["checks"][str(rows)] = timed_check(env, tmp)
            print(rows, report["checks"][str(rows)])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import evidently, mlflow"], env=env, check=True)
        report["import_seconds_evidently_mlflow"] = round(time.perf_counter() - started, 1)
    report["cpu_count"] = os.cpu_count()
    report["numpy"] = np.__version__
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
