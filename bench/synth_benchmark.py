"""Benchmark: synthesize, validate and ingest a 1,000-patient x 365-day cohort.

Each step runs as its own `novamind` process; wall time and peak resident memory are
measured per process. Results print as a table and go to bench/results/synth.json.

    .venv/bin/python bench/synth_benchmark.py [--patients 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "synth.json"


def timed(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run one command under GNU time: wall seconds and that process's peak RSS in MiB."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", "%M", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{' '.join(args[3:])} failed:\n{done.stdout}\n{done.stderr}")
        peak_kib = int(out.read().strip().splitlines()[-1])
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_kib / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="novamind-bench-"))
    env = dict(os.environ)
    env |= {
        "NOVAMIND_DATA_DIR": str(work / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "NOVAMIND_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "novamind_core.cli"]
    raw = str(work / "raw")
    size = ["--patients", str(options.patients), "--days", str(options.days)]
    steps = {
        "synth": [*cli, "data", "synth", "--out", raw, *size],
        "validate": [*cli, "data", "validate", raw],
        "ingest (validate + pseudonymize + encrypt)": [*cli, "data", "ingest", raw],
    }
    results = {name: timed(args, env) for name, args in steps.items()}
    rows = {p.stem: p.stat().st_size for p in Path(raw).glob("*.parquet")}
    report = {
        "patients": options.patients,
        "days": options.days,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "raw_parquet_bytes": rows,
        "steps": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{options.patients} patients x {options.days} days on {os.cpu_count()} cores")
    for name, figures in results.items():
        seconds, peak = figures["seconds"], figures["peak_rss_mib"]
        print(f"  {name:45s} {seconds:7.1f} s   peak RSS {peak:7.0f} MiB")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
