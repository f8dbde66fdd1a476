"""Benchmark: the digital twin's insights endpoint over the three served champions.

Run where `make run` left its state (`.env`, `data/`, `mlruns/` with the three approved
champions): the three model servers (`novamind serve --model M`, one process each) and the
twin start on loopback (`twin/local_stack.py`). For 1, 8 and 32 clients (closed loop,
httpx, each client asking about one stored patient after another):

- **cold**: a twin without a cache (`NOVAMIND_CACHE_TTL=0`): every answer calls the three
  servers;
- **warm**: a second twin with the Redis cache (the machine's server, db 12), primed with
  one pass over the patients: every answer comes from the cache;
- **one upstream down**: the medication server stopped, cold twin: answers are partial
  (its breaker opens after 5 failures, then answers without calling);

p50/p95/p99 latency and throughput per cell, and the twin's overhead over the slowest
upstream call of the same request (cold, complete answers at 1 client; the upstream
durations are the ones the twin measured and reports in `sources`).

    .venv/bin/python bench/twin_benchmark.py [--patients 200] [--seconds 15]
        [--concurrency 1 8 32]

Results: bench/results/twin.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results" / "twin.json"
REDIS_URL = "redis://127.0.0.1:6379/12"


def stored_patients(limit: int) -> list[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "novamind_core.cli",
            "data",
            "patients",
            "--having",
            "treatment_history",
            "--limit",
            str(limit),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


async def closed_loop(url: str, patients: list[str], clients: int, seconds: float, headers):
    """``clients`` workers, each sending its next request when the last one answered."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ratios: list[float] = []
    overheads: list[float] = []
    partial = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def worker(offset: int) -> None:
            nonlocal partial
            i = offset
            while time.perf_counter() < stop:
                patient = patients[i % len(patients)]
                i += clients
                started = time.perf_counter()
                response = await client.get(f"{url}/v1/twin/{patient}/insights")
                elapsed = (time.perf_counter() - started) * 1000
                latencies.append(elapsed)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                body = response.json()
                if body.get("unavailable"):
                    partial += 1
                elif not body.get("cached") and body.get("sources"):
                    slowest = max(s["duration_ms"] for s in body["sources"].values())
                    ratios.append(elapsed / slowest)
                    overheads.append(elapsed - slowest)

        began = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        wall = time.perf_counter() - began
    lat = np.array(latencies)
    cell = {
        "clients": clients,
        "requests": len(lat),
        "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "partial_answers": partial,
    }
    if ratios:
        cell["overhead_ratio_p50"] = round(float(np.median(ratios)), 3)
        cell["overhead_ms_p50"] = round(float(np.median(overheads)), 1)
    return cell


def headers_of(settings) -> dict[str, str]:
    from novamind_core.infrastructure.monitoring.replay import service_credentials

    return service_credentials(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    import httpx
    import redis

    from novamind_core.infrastructure.settings import get_settings
    from novamind_core.twin.local_stack import _start, _wait, free_port, local_stack

    settings = get_settings()
    headers = headers_of(settings)
    patients = stored_patients(args.patients)
    if len(patients) < 10:
        sys.exit("run `make run` first: the benchmark needs the stored patients and champions")
    redis.Redis.from_url(REDIS_URL).flushdb()
    log_dir = settings.data_dir / "logs" / "twin-bench"
    results: dict = {"patients": len(patients), "seconds_per_cell": args.seconds, "cells": {}}
    cold_env = {"NOVAMIND_CACHE_TTL": "0"}
    with local_stack(log_dir, twin_env=cold_env) as stack:
        not_ready = [s.name for s in stack.servers.values() if not s.ready]
        if not_ready:
            sys.exit(f"no champion served for {not_ready}: run `make run` first")
        urls = dict(os.environ) | {
            "NOVAMIND_TWIN_FORECASTER_URL": stack.servers["forecast"].url,
            "NOVAMIND_TWIN_CORRELATOR_URL": stack.servers["correlations"].url,
            "NOVAMIND_TWIN_MEDICATION_URL": stack.servers["medications"].url,
            "NOVAMIND_REDIS_URL": REDIS_URL,
            "PYTHONUNBUFFERED": "1",
        }
        warm_twin = _start("twin-warm", ["twin", "serve"], urls, log_dir, free_port())
        try:
            assert _wait(warm_twin, "/readyz", 60.0), "the warm twin did not start"
            for name, url in (("cold", stack.twin.url), ("warm", warm_twin.url)):
                if name == "warm":  # prime the cache: one pass over the patients
                    for p in patients:
                        httpx.get(f"{url}/v1/twin/{p}/insights", headers=headers, timeout=60)
                for clients in args.concurrency:
                    cell = asyncio.run(closed_loop(url, patients, clients, args.seconds, headers))
                    results["cells"][f"{name}/{clients}"] = cell
                    print(f"{name:>5} {clients:>3} clients: {json.dumps(cell)}", flush=True)
        finally:
            warm_twin.stop()
        stack.stop("medications")
        for clients in args.concurrency:
            cell = asyncio.run(
                closed_loop(stack.twin.url, patients, clients, args.seconds, headers)
            )
            results["cells"][f"medication-down/{clients}"] = cell
            print(f" down {clients:>3} clients: {json.dumps(cell)}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
