"""Benchmark: latency and throughput of `novamind serve` beside `mlflow models serve`.

Both servers serve the same registered MLflow model on loopback: the architecture the
pipeline trains by default (2+2-layer Transformer, XGBoost per horizon), one epoch on a
small cohort. For each protocol (ours: KServe V1 and V2; MLflow: /invocations), each
request size (1 or 8 patients with 30 days of history) and each concurrency (1, 8, 32,
128 clients), requests are sent for ``--seconds`` (closed loop) and p50/p95/p99 latency,
throughput and, for ours, the mean micro-batch size are measured. Resident memory of each
server (all its processes) is read at the end. Results: bench/results/serving.json.

    .venv/bin/python bench/serving_benchmark.py [--seconds 12] [--workers 2] [--floor]
        [--servers novamind mlflow kserve-floor] [--patients 1 8] [--concurrency 1 8 32 128]
        [--loadgen wrk aiohttp]

Load generators: ``wrk`` (C, `apt-get install wrk`; bench/wrk_closed_loop.lua) and an
aiohttp closed loop in this process. Both keep ``clients`` connections each with one
request in flight. On a 2-core machine the generator takes CPU from the server it
measures, so every cell also reports the CPU the server and the generator used
(``server_cpu_ms_per_request``, ``loadgen_cores``).

``--floor`` adds a KServe server whose model does no work (bench/kserve_floor_server.py),
loaded the same way: the latency the framework alone costs on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import psutil
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results" / "serving.json"
SECRET = "b" * 48
KEY = b"k" * 32
COLUMNS = ("mood", "phq9", "gad7", "sleep_hours", "steps", "heart_rate_bpm", "hrv_rmssd_ms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}; see its log beside the data")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"{url} not ready after {seconds} s")


def batch_totals(port: int) -> tuple[float, float]:
    """(sum, count) of the server's micro-batch-size histogram (every worker's)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    totals = {"novamind_micro_batch_size_sum": 0.0, "novamind_micro_batch_size_count": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return tuple(totals.values())


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its live descendants (a server's workers)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants."""
    total = 0.0
    for process in process_tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def history(rng, days: int = 30) -> list[dict]:
    base = {
        "mood": 6,
        "phq9": 10,
        "gad7": 8,
        "sleep_hours": 7,
        "steps": 7000,
        "heart_rate_bpm": 68,
        "hrv_rmssd_ms": 40,
    }
    return [
        {
            "day": f"2025-05-{d + 1:02d}",
            **{c: round(float(v * (1 + 0.1 * rng.standard_normal())), 2) for c, v in base.items()},
        }
        for d in range(days)
    ]


def bodies(kind: str, patients: int, rng) -> dict:
    people = [("p_" + f"{rng.integers(1 << 60):024x}"[:24], history(rng)) for _ in range(patients)]
    if kind == "v1":
        return {"instances": [{"patient_key": k, "history": h} for k, h in people]}
    rows = [{"patient_key": k, **r} for k, h in people for r in h]
    if kind == "v2":
        inputs = [
            {
                "name": "patient_key",
                "datatype": "BYTES",
                "shape": [len(rows)],
                "data": [r["patient_key"] for r in rows],
            },
            {
                "name": "day",
                "datatype": "BYTES",
                "shape": [len(rows)],
                "data": [r["day"] for r in rows],
            },
        ]
        inputs += [
            {"name": c, "datatype": "FP32", "shape": [len(rows)], "data": [r[c] for r in rows]}
            for c in COLUMNS
        ]
        return {"inputs": inputs}
    columns = ["patient_key", "day", *COLUMNS]
    return {
        "dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}
    }


def sample_bodies(kind: str, patients: int, clients: int) -> list[dict]:
    """The 16 request bodies a cell sends in turn."""
    rng = np.random.default_rng(clients * 10 + patients)
    return [bodies(kind, patients, rng) for _ in range(16)]


async def load(
    url: str,
    samples: list[dict],
    patients: int,
    clients: int,
    requests: int,
    seconds: float,
    headers: dict,
) -> dict:
    """A closed loop of ``clients`` connections, each sending its next request when the
    previous reply arrives. The load generator shares the machine with the server, so it is
    kept cheap: aiohttp, bodies serialized once (httpx spent about 14 ms of CPU per request
    with 128 requests in flight, more than the server did)."""
    payloads = [json.dumps(body).encode() for body in samples]
    headers = {**headers, "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop_at = 0.0

    async def post(http: aiohttp.ClientSession, body: bytes) -> int:
        async with http.post(url, data=body, headers=headers) as reply:
            await reply.read()
            return reply.status

    async def client(http: aiohttp.ClientSession, index: int) -> None:
        nonlocal sent, errors
        while sent < requests and time.perf_counter() < stop_at:
            sent += 1
            body = payloads[(index + sent) % len(payloads)]
            started = time.perf_counter()
            status = await post(http, body)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        # warm-up, not counted: every client's connection is open before the clock starts
        await asyncio.gather(*(post(http, payloads[0]) for _ in range(clients)))
        began = time.perf_counter()
        cpu_before = time.process_time()
        stop_at = began + seconds
        await asyncio.gather(*(client(http, i) for i in range(clients)))
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_before
    ms = np.array(latencies) * 1000
    return figures(len(ms), errors, np.percentile(ms, [50, 95, 99]), elapsed, cpu, patients)


def figures(requests, errors, p50_95_99_ms, elapsed: float, cpu: float, patients: int) -> dict:
    """One cell's figures, whichever generator measured it."""
    p50, p95, p99 = (round(float(ms), 1) for ms in p50_95_99_ms)
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "requests_per_s": round(requests / elapsed, 1),
        "patients_per_s": round(requests * patients / elapsed, 1),
        "elapsed_s": elapsed,
        "loadgen_cores": round(cpu / elapsed, 2),
    }


WRK_SCRIPT = Path(__file__).parent / "wrk_closed_loop.lua"


def wrk_load(
    url: str, samples: list[dict], patients: int, clients: int, seconds: float, headers: dict
):
    """The same closed loop driven by wrk (one thread, ``clients`` connections), the same
    request bodies in turn; a one-second warm-up run opens the connections first."""
    folder = Path(tempfile.mkdtemp(prefix="novamind-wrk-"))
    files = []
    for i, body in enumerate(samples):
        files.append(folder / f"body{i}.json")
        files[-1].write_text(json.dumps(body))
    path = "/" + url.split("/", 3)[3]
    env = dict(os.environ, WRK_HEADERS="\n".join(f"{k}: {v}" for k, v in headers.items()))

    def run(duration: float) -> dict:
        command = ["wrk", "-t1", f"-c{clients}", f"-d{duration:g}s", "--timeout", "60s"]
        command += ["-s", str(WRK_SCRIPT), url, "--", path, *map(str, files)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    try:
        run(1)
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk = run(seconds)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    percentiles = [wrk[f"p{p}_us"] / 1000 for p in (50, 95, 99)]
    return figures(
        wrk["requests"], wrk["errors"], percentiles, wrk["duration_us"] / 1e6, cpu, patients
    )


def measure_cell(url, samples, clients, loadgen, seconds, headers, pid) -> dict:
    """One closed-loop cell of single-patient requests against one server, with the CPU
    the server's process tree spent per request and the cores it kept busy."""
    cpu_before = tree_cpu_seconds(pid)
    if loadgen == "wrk":
        cell = wrk_load(url, samples, 1, clients, seconds, headers)
    else:
        cell = asyncio.run(load(url, samples, 1, clients, 100_000, seconds, headers))
    cpu = tree_cpu_seconds(pid) - cpu_before
    cell["server_cpu_ms_per_request"] = round(1000 * cpu / max(cell["requests"], 1), 2)
    cell["server_cores"] = round(cpu / cell.pop("elapsed_s"), 2)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="cap per cell")
    parser.add_argument("--seconds", type=float, default=12, help="length of each cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure a KServe server whose model does no work (the framework's floor)",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["novamind", "mlflow", "kserve-floor"],
        help="which servers to measure (kserve-floor only with --floor)",
    )
    parser.add_argument("--patients", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--workers", type=int, default=2, help="novamind serve --workers (server processes)"
    )
    parser.add_argument(
        "--loadgen",
        nargs="+",
        choices=["wrk", "aiohttp"],
        default=["wrk", "aiohttp"] if shutil.which("wrk") else ["aiohttp"],
        help="load generators, each measuring every cell (default: wrk when installed, "
        "and aiohttp)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the results")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="novamind-serving-"))
    from tests.support.approvals import approval_keys, sign_approval

    approval_public, approval_pem = approval_keys(work / "reviewer")
    env = dict(os.environ) | {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": approval_public,
        "NOVAMIND_JWT_ALGORITHM": "HS256",  # the benchmark mints its own service token
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "NOVAMIND_DATA_DIR": str(work / "data"),
        "NOVAMIND_JWT_SECRET": SECRET,
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(b"a" * 32).decode(),
        "NOVAMIND_LOG_LEVEL": "WARNING",
        # mlflow models serve execs uvicorn by name: put this environment's bin on PATH
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    os.environ.update(env)
    from mlflow.tracking import MlflowClient

    from novamind_core.domain.security import Role
    from novamind_core.families.forecasting.registration import register_forecaster
    from novamind_core.infrastructure.security.tokens import TokenService
    from tests.support.tiny_forecaster import train_tiny_bundle

    # the architecture the pipeline trains by default (2 encoder / 2 decoder layers, XGBoost
    # tuned over 8 trials); one epoch on a small cohort, as only the shape sets the cost
    _, evaluation, _ = train_tiny_bundle(work / "bundle", KEY, layers=2, trials=8)
    registered = register_forecaster(
        work / "bundle", evaluation, {"bench": True}, {"version": "bench", "fingerprint": ""}, ""
    )
    sign_approval(approval_pem, "symptom-forecaster", registered["version"])
    MlflowClient().set_registered_model_alias(
        "symptom-forecaster", "champion", registered["version"]
    )
    ours_port, theirs_port = free_port(), free_port()
    ours = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "novamind_core.cli",
            "serve",
            "--port",
            str(ours_port),
            "--workers",
            str(options.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "novamind-serve.log").open("w"),  # a full, unread pipe would block it
    )
    theirs = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            registered["model_uri"],
            "-p",
            str(theirs_port),
            "-h",
            "127.0.0.1",
            "--env-manager",
            "local",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "mlflow-serve.log").open("w"),
    )
    floor, floor_port = None, free_port()
    if options.floor:
        floor = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "kserve_floor_server.py"),
                str(floor_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "floor-serve.log").open("w"),
        )
    report = {"cpu_count": os.cpu_count(), "runs": [], "rss_mib": {}}
    try:
        wait_ready(f"http://127.0.0.1:{ours_port}/v2/health/ready", ours)
        wait_ready(f"http://127.0.0.1:{theirs_port}/health", theirs)
        if floor is not None:
            wait_ready(f"http://127.0.0.1:{floor_port}/v2/health/ready", floor)
        token = TokenService(SECRET).mint("bench", [Role.SERVICE])
        auth = {"Authorization": f"Bearer {token}"}
        targets = [
            (
                "novamind",
                "v1",
                f"http://127.0.0.1:{ours_port}/v1/models/symptom-forecaster:predict",
                auth,
            ),
            (
                "novamind",
                "v2",
                f"http://127.0.0.1:{ours_port}/v2/models/symptom-forecaster/infer",
                auth,
            ),
            ("mlflow", "invocations", f"http://127.0.0.1:{theirs_port}/invocations", {}),
        ]
        if floor is not None:
            url = f"http://127.0.0.1:{floor_port}/v1/models/floor:predict"
            targets.append(("kserve-floor", "v1", url, {}))
        pids = {"novamind": ours.pid, "mlflow": theirs.pid}
        if floor is not None:
            pids["kserve-floor"] = floor.pid
        cells = [
            (server, kind, url, headers, loadgen, patients, clients)
            for server, kind, url, headers in targets
            if server in options.servers
            for patients in options.patients
            for clients in options.concurrency
            for loadgen in options.loadgen
        ]
        for server, kind, url, headers, loadgen, patients, clients in cells:
            before = batch_totals(ours_port) if server == "novamind" else None
            cpu_before = tree_cpu_seconds(pids[server])
            samples = sample_bodies(kind, patients, clients)
            if loadgen == "wrk":
                cell = wrk_load(url, samples, patients, clients, options.seconds, headers)
            else:
                cell = asyncio.run(
                    load(
                        url, samples, patients, clients, options.requests, options.seconds, headers
                    )
                )
            # includes the warm-up requests, a small share of a 12-second cell
            server_cpu = tree_cpu_seconds(pids[server]) - cpu_before
            cell["server_cpu_ms_per_request"] = round(
                1000 * server_cpu / max(cell["requests"], 1), 2
            )
            cell["server_cores"] = round(server_cpu / cell.pop("elapsed_s"), 2)
            if before is not None:
                after = batch_totals(ours_port)
                batches = max(after[1] - before[1], 1)
                cell["mean_batch_requests"] = round((after[0] - before[0]) / batches, 1)
            entry = {
                "server": server,
                "protocol": kind,
                "loadgen": loadgen,
                "patients_per_request": patients,
                "clients": clients,
                **cell,
            }
            report["runs"].append(entry)
            print(json.dumps(entry))
        measured = [
            (n, p) for n, p in (("novamind", ours), ("mlflow", theirs)) if n in options.servers
        ]
        for name, process in measured:
            tree = process_tree(process.pid)
            report["rss_mib"][name] = round(sum(p.memory_info().rss for p in tree) / 2**20)
    finally:
        for process in (ours, theirs, floor):
            if process is None:
                continue
            process.terminate()
            process.wait(timeout=30)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"resident memory: {report['rss_mib']}; written to {options.out}")


if __name__ == "__main__":
    main()
