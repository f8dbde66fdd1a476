"""Benchmark: the medication-response family — training at 1,000 and 10,000 patients, and
ranking 20 drugs for one patient at the endpoint.

Training: for each cohort size a synthetic cohort (``--days`` of follow-up) is generated,
its pharmacogenomics tables handed to a fresh process that builds the examples, splits by
patient and trains the GNN, the genotype-blind GNN and XGBoost on 2 cores, as the
pipeline's steps do; the process reports each stage's time, its peak resident memory and
the held-out figures.

Serving: the bundle trained at the first size is registered, approved and served by
`novamind serve --model medication-response`; each request sends one patient (genotype,
profile, two earlier trials) and 20 candidate drugs; p50/p95/p99 latency and throughput
at 1, 8 and 32 clients, V1 and V2, with wrk and an aiohttp closed loop.

    .venv/bin/python bench/pgx_benchmark.py [--patients 1000 10000] [--days 150]
        [--seconds 12] [--concurrency 1 8 32] [--workers 2] [--loadgen wrk aiohttp]

Results: bench/results/pgx.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results" / "pgx.json"
SECRET = "b" * 48
KEY = b"k" * 32
CANDIDATES = 20
GENOTYPES = [
    {"CYP2D6": "*1/*1", "CYP2C19": "*1/*17"},
    {"CYP2D6": "*4/*4", "CYP2C19": "*1/*1"},
    {"CYP2D6": "*1/*4", "CYP2C19": "*2/*2"},
    {"CYP2D6": "*1x2/*1", "CYP2C19": "*17/*17"},
]


# -- training (in a child process, for its own peak memory) -------------------------------
def cohort_tables(patients: int, days: int, seed: int, folder: Path) -> dict:
    """The cohort's pharmacogenomics tables, as the store holds them, into ``folder``."""
    from tests.support.pgx_cohort import pgx_tables

    tables, truth = pgx_tables(patients, days, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "truth.json").write_text(json.dumps(truth))
    return {"trials": len(tables["treatment_history"])}


def train_child(folder: Path, bundle: Path) -> dict:
    """Examples → split → GNN, genotype-blind GNN, XGBoost → held-out figures; the bundle
    written to ``bundle``."""
    import pandas as pd
    import torch

    from novamind_core.families.pharmacogenomics import cases as C
    from novamind_core.families.pharmacogenomics import evaluation as E
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.families.pharmacogenomics.baselines import fit_baseline
    from novamind_core.families.pharmacogenomics.bundle import Catalog, save_network
    from novamind_core.families.pharmacogenomics.cohort_data import catalog_of
    from novamind_core.families.pharmacogenomics.graphs import DrugGraphs, morgan_fingerprint
    from novamind_core.families.pharmacogenomics.training import fit, predict_proba

    torch.set_num_threads(2)
    t = {}
    started = time.perf_counter()
    tables = {
        n: pd.read_parquet(folder / f"{n}.parquet")
        for n in ("patients", "genotypes", "treatment_history", "medications")
    }
    smiles, genes, doses, classes = catalog_of(tables["medications"])
    graphs = DrugGraphs(smiles)
    fingerprints = np.stack([morgan_fingerprint(d, smiles[d]) for d in graphs.drugs])
    t["graphs_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    ex = C.examples_from_tables(
        tables["patients"], tables["genotypes"], tables["treatment_history"], genes
    )
    current = C.patient_cases(tables["patients"], tables["genotypes"], tables["treatment_history"])
    where = steps.assign(sorted(current), 0.15, 0)
    enc = C.encode(ex.cases, ex.drugs, graphs.index, doses)
    split = np.array([where[k] for k in ex.keys])
    y = np.stack([ex.response, ex.side_effect], axis=1)
    t["examples_s"] = time.perf_counter() - mark
    parts = {s: np.flatnonzero(split == s) for s in steps.SPLITS}
    train, val, test = (enc.take(parts[s]) for s in steps.SPLITS)
    batch = graphs.batch()
    out = {
        "examples": len(ex),
        "train_examples": len(parts["train"]),
        "test_examples": len(parts["test"]),
    }
    nets = {}
    for name, blind in (("gnn", False), ("genotype_blind", True)):
        mark = time.perf_counter()
        a, b = (train.blind(), val.blind()) if blind else (train, val)
        nets[name], info = fit(a, y[parts["train"]], b, y[parts["validation"]], batch, seed=0)
        t[f"{name}_s"] = time.perf_counter() - mark
        out[f"{name}_epochs"] = info["epochs"]
        save_network(nets[name], info, bundle / ("gnn" if name == "gnn" else "blind"))
    mark = time.perf_counter()
    boosted, _ = fit_baseline(train, y[parts["train"]], val, y[parts["validation"]], fingerprints)
    t["xgboost_s"] = time.perf_counter() - mark
    predictions = {
        "gnn": predict_proba(nets["gnn"], batch, test),
        "genotype_blind": predict_proba(nets["genotype_blind"], batch, test.blind()),
        "xgboost": boosted.predict_proba(test),
    }
    y_test = y[parts["test"]]
    out["held_out"] = {m: E.model_metrics(y_test, p) for m, p in predictions.items()}
    truth = json.loads((folder / "truth.json").read_text())
    effects = E.phenotype_effects(
        [ex.primary_phenotype[i] for i in parts["test"]], y_test, predictions, truth
    )
    out["phenotype_effects"] = effects
    Catalog(smiles, genes, doses, classes, {}).save(bundle / "catalog.json")
    keys = sorted(current)
    now = C.encode([current[k] for k in keys], [graphs.drugs[0]] * len(keys), graphs.index, doses)
    train_patients = now.take(np.flatnonzero(np.array([where[k] == "train" for k in keys])))
    quantiles = {
        "gnn": steps.benefit_quantiles(nets["gnn"], batch, train_patients, graphs.drugs),
        "blind": steps.benefit_quantiles(
            nets["genotype_blind"], batch, train_patients.blind(), graphs.drugs
        ),
    }
    (bundle / "reference.json").write_text(json.dumps(quantiles))
    out["seconds"] = {k: round(v, 2) for k, v in t.items()}
    out["seconds"]["total_s"] = round(time.perf_counter() - started, 2)
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def peak_rss_mib() -> int:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that
    over an exec from the parent, which here had just generated the cohort."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def training(patients: int, days: int, work: Path) -> dict:
    folder = work / f"cohort-{patients}"
    started = time.perf_counter()
    made = cohort_tables(patients, days, seed=3, folder=folder)
    generated = round(time.perf_counter() - started, 1)
    child = subprocess.run(
        [sys.executable, __file__, "--train-child", str(folder), str(work / f"bundle-{patients}")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"patients": patients, "days": days, **made, "generate_s": generated, **result}


# -- serving -----------------------------------------------------------------------------------
def request_bodies(kind: str, drugs: list[str]) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(16):
        key = "p_" + f"{rng.integers(1 << 60):024x}"[:24]
        genotype = GENOTYPES[i % len(GENOTYPES)]
        history = [
            {"drug": "sertraline", "dose_mg": 100, "response": False, "side_effects": ["nausea"]},
            {"drug": "venlafaxine", "dose_mg": 150, "response": None},
        ]
        fields = {"diagnosis": "MDD", "age_band": "35-44", "sex": "F"}
        if kind == "v1":
            out.append(
                {
                    "instances": [
                        {
                            "patient_key": key,
                            "genotype": genotype,
                            **fields,
                            "history": history,
                            "candidates": drugs,
                        }
                    ]
                }
            )
        else:
            tensors = {
                "patient_key": key,
                **fields,
                "cyp2d6": genotype["CYP2D6"],
                "cyp2c19": genotype["CYP2C19"],
                "history": json.dumps(history),
                "candidates": ";".join(drugs),
            }
            out.append(
                {
                    "inputs": [
                        {"name": n, "datatype": "BYTES", "shape": [1], "data": [v]}
                        for n, v in tensors.items()
                    ]
                }
            )
    return out


def serving(bundle: Path, work: Path, options) -> dict:
    from bench.serving_benchmark import free_port, measure_cell, process_tree, wait_ready
    from tests.support.approvals import approval_keys, sign_approval

    public, pem = approval_keys(work / "reviewer")
    env = dict(os.environ) | {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "NOVAMIND_DATA_DIR": str(work / "data"),
        "NOVAMIND_JWT_SECRET": SECRET,
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(b"a" * 32).decode(),
        "NOVAMIND_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    from mlflow.tracking import MlflowClient

    from novamind_core.domain.security import Role
    from novamind_core.families.pharmacogenomics.bundle import Catalog
    from novamind_core.families.pharmacogenomics.family import MODEL_NAME
    from novamind_core.families.pharmacogenomics.pyfunc import (
        MedicationResponsePyfunc,
        input_example,
    )
    from novamind_core.infrastructure.registry.model_registry import register_model
    from novamind_core.infrastructure.security.tokens import TokenService

    model = MedicationResponsePyfunc()
    model.load_context(type("Context", (), {"artifacts": {"bundle": str(bundle)}})())
    example = input_example()
    registered = register_model(
        MODEL_NAME,
        MedicationResponsePyfunc(),
        {"bundle": str(bundle)},
        example,
        model.predict(None, example),
        {},
        {"bench": True},
        {"version": "bench", "fingerprint": ""},
        "",
    )
    sign_approval(pem, MODEL_NAME, registered["version"])
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", registered["version"])
    drugs = sorted(Catalog.load(bundle / "catalog.json").smiles)[:CANDIDATES]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "novamind_core.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(options.workers),
            "--model",
            MODEL_NAME,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "serve.log").open("w"),
    )
    token = TokenService(SECRET).mint("bench", [Role.SERVICE])
    headers = {"Authorization": f"Bearer {token}"}
    urls = {
        "v1": f"http://127.0.0.1:{port}/v1/models/{MODEL_NAME}:predict",
        "v2": f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/infer",
    }
    report = {"candidates": len(drugs), "workers": options.workers, "runs": []}
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
        for kind, url in urls.items():
            samples = request_bodies(kind, drugs)
            for clients in options.concurrency:
                for loadgen in options.loadgen:
                    cell = measure_cell(
                        url, samples, clients, loadgen, options.seconds, headers, server.pid
                    )
                    entry = {"protocol": kind, "loadgen": loadgen, "clients": clients, **cell}
                    report["runs"].append(entry)
                    print(json.dumps(entry), flush=True)
        report["rss_mib"] = round(
            sum(p.memory_info().rss for p in process_tree(server.pid)) / 2**20
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--train-child":
        print(json.dumps(train_child(Path(sys.argv[2]), Path(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument(
        "--loadgen",
        nargs="+",
        choices=["wrk", "aiohttp"],
        default=["wrk", "aiohttp"] if shutil.which("wrk") else ["aiohttp"],
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="novamind-pgx-bench-"))
    report: dict = {"cpu_count": os.cpu_count(), "training": []}
    for n in options.patients:
        result = training(n, options.days, work)
        report["training"].append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "phenotype_effects"}), flush=True)
    if not options.skip_serving:
        report["serving"] = serving(work / f"bundle-{options.patients[0]}", work, options)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {options.out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
