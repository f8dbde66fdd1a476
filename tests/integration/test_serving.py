"""`novamind serve` end to end: a real KServe server on 127.0.0.1 over a real MLflow registry.

One small forecaster is trained in-process and registered as ``symptom-forecaster@champion``
in a private SQLite registry; its de-identified cohort is written to an encrypted store.
The server then runs as a subprocess (``python -m novamind_core.cli serve``) and is
exercised over HTTP only: V1 and V2 (Open Inference) predictions, tokens and API keys,
bad input, concurrent micro-batched requests, champion hot reload, and the encrypted
payload log it writes when it stops.

The bad-input cases include those that once crashed the server (null or zoned days, dates
past pandas' range, oversized chunked bodies, out-of-range values, raw identifiers).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import jwt
import pandas as pd
import pytest

from novamind_core.domain.security import Role
from novamind_core.infrastructure.security.tokens import TokenService
from novamind_core.infrastructure.settings import get_settings
from tests.support.approvals import approval_keys, sign_approval

KEY = bytes(range(32))  # the 32-byte master key of the store and the payload log
AUDIT_KEY = bytes(range(32, 64))  # the audit trail's own key
JWT_SECRET = "serving-test-jwt-secret-" + "s" * 24
API_KEY = "serving-test-api-key-0123456789abcdef"
MODEL = "symptom-forecaster"
PREDICT = f"/v1/models/{MODEL}:predict"
INFER = f"/v2/models/{MODEL}/infer"
VALUE_COLUMNS = ("phq9", "gad7", "mood", "heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")
GATES = {"mase_below_seasonal_naive": True, "interval_coverage_within_5_points": True}
DATASET = {"version": "v0001", "fingerprint": "x" * 64}
PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")
HISTORY_END = date(2025, 3, 30)


# -- the registry, the store and the server --------------------------------------------------------


@dataclass
class Registry:
    root: Path
    data_dir: Path
    env: dict[str, str]
    tables: dict[str, pd.DataFrame]
    raw_patients: pd.DataFrame  # identifiers and names: must never reach the server's output
    bundle_dir: Path
    evaluation: dict
    version: str
    approval_key: Path  # the reviewers' signing key: servers load approved versions only

    @property
    def keys(self) -> list[str]:
        return self.tables["patients"]["patient_key"].tolist()


def _train(root: Path):
    """A small forecaster on a synthetic, de-identified cohort (about 20 s on 2 cores)."""
    from novamind_core.application.deidentify import deidentify
    from novamind_core.families.forecasting import gradient_boosting, training
    from novamind_core.families.forecasting.spec import ForecastSpec
    from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer
    from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

    cohort = generate(CohortConfig(patients=60, days=150, seed=4))
    tables = deidentify(cohort.tables, HmacPseudonymizer(KEY), date(2025, 12, 31))
    spec = ForecastSpec()
    grid, fill, _ = training.impute(tables["symptom_observations"], tables["biometrics"], spec)
    prepared = training.prepare(grid, training.split(grid, spec), spec)
    config, model, _ = training.train_transformer(
        prepared, spec, epochs=1, encoder_layers=1, decoder_layers=1
    )
    # Fixed, small XGBoost parameters: an Optuna search costs a minute here and is not
    # what these tests are about.
    w = prepared.windows["train"]
    xgb_models = gradient_boosting.fit_per_horizon(
        gradient_boosting.tabular(w),
        w.target,
        w.target_observed,
        {"max_depth": 3, "n_estimators": 30, "learning_rate": 0.1},
        spec.seed,
    )
    bundle = training.fit_ensemble(prepared, spec, fill, config, model, xgb_models, True)
    evaluation = training.evaluate(bundle, prepared, spec, with_ets=False)
    bundle_dir = root / "bundle"
    bundle.save(bundle_dir)
    return cohort.tables["patients"], tables, bundle_dir, evaluation


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    """Train, store and register; ``symptom-forecaster@champion`` points at the result."""
    from mlflow.tracking import MlflowClient

    from novamind_core.families.forecasting.registration import register_forecaster
    from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore

    root = tmp_path_factory.mktemp("serving")
    data_dir = root / "data"
    public, pem = approval_keys(root / "reviewer")
    settings_env = {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_DATA_DIR": str(data_dir),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(AUDIT_KEY).decode(),
        "NOVAMIND_JWT_SECRET": JWT_SECRET,
        "NOVAMIND_JWT_ALGORITHM": "HS256",  # the tests mint their own tokens
        "NOVAMIND_API_KEY": API_KEY,
        "MLFLOW_TRACKING_URI": f"sqlite:///{(root / 'mlflow.db').as_posix()}",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("NOVAMIND_"):
                mp.delenv(name)
        for name, value in settings_env.items():
            mp.setenv(name, value)
        mp.chdir(root)  # no stray .env file is read
        get_settings.cache_clear()
        try:
            raw_patients, tables, bundle_dir, evaluation = _train(root)
            EncryptedDatasetStore(data_dir / "store", KEY).write(
                tables, {"patients": len(tables["patients"])}
            )
            registered = register_forecaster(
                bundle_dir, evaluation, GATES, DATASET, parent_run_id="", charts_dir=None
            )
            version = str(registered["version"])
            sign_approval(pem, MODEL, version)
            MlflowClient().set_registered_model_alias(MODEL, "champion", version)
            env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
            env |= settings_env | {"PYTHONUNBUFFERED": "1"}
            yield Registry(
                root, data_dir, env, tables, raw_patients, bundle_dir, evaluation, version, pem
            )
        finally:
            get_settings.cache_clear()


def audit_trail_of(env: dict[str, str]):
    """The audit trail a server with ``env`` writes, with its checkpoint store."""
    from novamind_core.infrastructure import composition

    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        try:
            return composition.audit_trail()
        finally:
            get_settings.cache_clear()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CLINICIAN = object()  # default credential of Server.request


class Server:
    """``novamind serve`` in a subprocess, and a small HTTP client for it."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "server"):
        self.env = env
        self.workdir = workdir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.options = ["--port", str(self.port), "--poll-seconds", "1"]
        self.proc: subprocess.Popen | None = None
        self.ready_path = "/v2/health/ready"  # /v2/health/live: started, champion or not
        self._files: list = []
        self.tokens = TokenService(JWT_SECRET)
        self.token = self.tokens.mint("dr-serving-test", [Role.CLINICIAN])

    def start(self, timeout: float = 90.0) -> Server:
        self._files = [self.stdout_path.open("wb"), self.stderr_path.open("wb")]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "novamind_core.cli", "serve", *self.options],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._files[0],
            stderr=self._files[1],
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode} before it was ready:\n"
                    + self.log_tail()
                )
            try:
                if httpx.get(f"{self.base}{self.ready_path}", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server was not ready within {timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def stop(self) -> int | None:
        """SIGTERM (the server flushes its payload log), then SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for f in self._files:
            f.close()
        self._files = []
        return self.proc.returncode

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        useful = [line for line in self.log().splitlines() if "DeprecationWarning" not in line]
        return "\n".join(useful[-lines:])

    def request(self, method: str, path: str, *, auth=_CLINICIAN, headers=None, **kwargs):
        sent = {} if auth is None else {"Authorization": f"Bearer {self.token}"}
        if auth is not None and auth is not _CLINICIAN:
            sent = {"Authorization": f"Bearer {auth}"}
        sent |= headers or {}
        # a fresh connection per call: a refused or failed request cannot affect the next
        with httpx.Client(base_url=self.base, timeout=60) as client:
            return client.request(method, path, headers=sent, **kwargs)

    def predict(self, instances, **kwargs) -> httpx.Response:
        return self.request("POST", PREDICT, json={"instances": instances}, **kwargs)

    def metrics(self) -> str:
        return self.request("GET", "/metrics", auth=None).text


def expect(response: httpx.Response, status: int, server: Server) -> dict:
    """Assert the status; on failure show the body and the server's log."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, got "
        f"{response.status_code}: {response.text[:800]}\n--- server log ---\n{server.log_tail()}"
    )
    return response.json()


@pytest.fixture(scope="module")
def server(registry, request):
    srv = Server(registry.env, registry.root)
    failed_before = request.session.testsfailed
    try:
        yield srv.start()
    finally:
        code = srv.stop()
        if request.session.testsfailed > failed_before:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"\n--- novamind serve (exit {code}), last log lines ---")
                reporter.write_line(srv.log_tail(60))


# -- requests --------------------------------------------------------------------------------------


def history(end: date = HISTORY_END, days: int = 30, seed: int = 0) -> list[dict]:
    """Daily rows ending on ``end``, every column a number (V1 and V2 alike)."""
    rng = random.Random(seed)
    rows = []
    for i in range(days):
        day = end - timedelta(days=days - 1 - i)
        rows.append(
            {
                "day": day.isoformat(),
                "mood": round(rng.uniform(2, 9), 1),
                "sleep_hours": round(rng.uniform(4.5, 9), 1),
                "heart_rate_bpm": round(rng.uniform(55, 95), 1),
                "steps": float(rng.randint(1500, 14000)),
            }
        )
    return rows


def v2_body(patients: dict[str, list[dict]], float_type: str = "FP32", **extra) -> dict:
    """Columnar V2 tensors, one row per (patient, day)."""
    rows = [(key, row) for key, h in patients.items() for row in h]
    n = len(rows)
    inputs = [
        {"name": "patient_key", "datatype": "BYTES", "shape": [n], "data": [k for k, _ in rows]},
        {"name": "day", "datatype": "BYTES", "shape": [n], "data": [r["day"] for _, r in rows]},
    ]
    for column in VALUE_COLUMNS:
        if column in rows[0][1]:
            values = [r[column] for _, r in rows]
            inputs.append({"name": column, "datatype": float_type, "shape": [n], "data": values})
    return {"inputs": inputs, **extra}


def v2_outputs(body: dict) -> pd.DataFrame:
    return pd.DataFrame({o["name"]: o["data"] for o in body["outputs"]})


def check_forecast(prediction: dict, key: str, version: str, first_day: date) -> None:
    assert prediction["patient_key"] == key
    assert prediction["model_version"] == version
    assert prediction["interval"] == 0.8
    assert prediction["target"] == "mood"  # the symptom the champion forecasts
    forecast = prediction["forecast"]
    assert [f["horizon"] for f in forecast] == list(range(1, 8))
    assert [f["day"] for f in forecast] == [
        (first_day + timedelta(days=h)).isoformat() for h in range(7)
    ]
    for f in forecast:
        assert all(isinstance(f[q], float) and math.isfinite(f[q]) for q in ("lower", "upper"))
        assert f["lower"] <= f["median"] <= f["upper"], f
        assert 0.0 <= f["median"] <= 10.0, f  # a mood score


def same_forecast(got: dict, want: dict, tolerance: float = 2e-3) -> bool:
    """Equal predictions, numbers to within rounding (a batch may change the last bit)."""
    if len(got["predictions"]) != len(want["predictions"]):
        return False
    for a, b in zip(got["predictions"], want["predictions"], strict=True):
        if (a["patient_key"], a["model_version"]) != (b["patient_key"], b["model_version"]):
            return False
        for fa, fb in zip(a["forecast"], b["forecast"], strict=True):
            if (fa["horizon"], fa["day"]) != (fb["horizon"], fb["day"]):
                return False
            if any(abs(fa[q] - fb[q]) > tolerance for q in ("median", "lower", "upper")):
                return False
    return True


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        sample, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample[len(name) :]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def last_stored_day(registry: Registry, key: str) -> date:
    days = [
        registry.tables[t].loc[registry.tables[t]["patient_key"] == key, "recorded_at"].max()
        for t in ("symptom_observations", "biometrics")
    ]
    return max(days).date()


# -- V1 --------------------------------------------------------------------------------------------


def test_v1_predict_with_history(server, registry):
    key = registry.keys[0]
    body = expect(server.predict([{"patient_key": key, "history": history()}]), 200, server)
    assert len(body["predictions"]) == 1
    check_forecast(body["predictions"][0], key, registry.version, HISTORY_END + timedelta(days=1))


def test_a_history_in_any_order_gives_the_same_forecast(server, registry):
    key = registry.keys[1]
    rows = history(seed=4)
    ordered = expect(server.predict([{"patient_key": key, "history": rows}]), 200, server)
    shuffled = random.Random(1).sample(rows, len(rows))
    unordered = expect(server.predict([{"patient_key": key, "history": shuffled}]), 200, server)
    assert unordered["predictions"] == ordered["predictions"]


def test_v1_predict_reads_the_history_from_the_store(server, registry):
    stored, sent = registry.keys[1], registry.keys[2]
    body = expect(
        server.predict(
            [{"patient_key": stored}, {"patient_key": sent, "history": history(seed=5)}]
        ),
        200,
        server,
    )
    by_key = {p["patient_key"]: p for p in body["predictions"]}
    assert set(by_key) == {stored, sent}
    # the forecast starts the day after the patient's last stored day
    first = last_stored_day(registry, stored) + timedelta(days=1)
    check_forecast(by_key[stored], stored, registry.version, first)
    check_forecast(by_key[sent], sent, registry.version, HISTORY_END + timedelta(days=1))
    # the server's read of the patient's record is in the audit trail
    trail = (registry.data_dir / "audit" / "audit.jsonl").read_text().splitlines()
    reads = [json.loads(line) for line in trail]
    assert any(
        r["action"] == "read" and r["details"] == {"patient": stored, "purpose": "serve forecast"}
        for r in reads
    )


# -- V2 --------------------------------------------------------------------------------------------


def test_v2_metadata_lists_the_tensors(server):
    assert server.request("GET", f"/v2/models/{MODEL}", auth=None).status_code == 401
    meta = expect(server.request("GET", f"/v2/models/{MODEL}"), 200, server)
    assert meta["name"] == MODEL
    inputs = {t["name"]: t["datatype"] for t in meta["inputs"]}
    assert inputs == {"patient_key": "BYTES", "day": "BYTES"} | dict.fromkeys(VALUE_COLUMNS, "FP32")
    outputs = {t["name"]: t["datatype"] for t in meta["outputs"]}
    assert {k: outputs.get(k) for k in ("median", "lower", "upper")} == dict.fromkeys(
        ("median", "lower", "upper"), "FP32"
    )
    assert outputs["patient_key"] == "BYTES" and outputs["horizon"] == "INT32"
    assert all(t["shape"] == [-1] for t in meta["inputs"] + meta["outputs"])


def _check_v2(server, registry, float_type: str) -> None:
    a, b = registry.keys[3], registry.keys[4]
    patients = {a: history(seed=1), b: history(end=HISTORY_END - timedelta(days=10), seed=2)}
    response = server.request("POST", INFER, json=v2_body(patients, float_type, id="req-42"))
    body = expect(response, 200, server)
    assert body["model_name"] == MODEL and body["model_version"] == registry.version
    assert body["id"] == "req-42"
    for o in body["outputs"]:
        assert o["shape"] == [len(o["data"])] == [14], o["name"]
    dtypes = {o["name"]: o["datatype"] for o in body["outputs"]}
    assert {k: dtypes[k] for k in ("median", "lower", "upper")} == dict.fromkeys(
        ("median", "lower", "upper"), "FP32"
    )
    out = v2_outputs(body)
    assert (out["lower"] <= out["median"]).all() and (out["median"] <= out["upper"]).all()
    for key, rows in patients.items():
        part = out[out["patient_key"] == key]
        assert part["horizon"].tolist() == list(range(1, 8))
        # the same history over V1 gives the same forecast
        v1 = expect(server.predict([{"patient_key": key, "history": rows}]), 200, server)
        forecast = v1["predictions"][0]["forecast"]
        assert part["day"].tolist() == [f["day"] for f in forecast]
        for q in ("median", "lower", "upper"):
            assert part[q].tolist() == pytest.approx([f[q] for f in forecast], abs=2e-3)


def test_v2_infer_fp64_columns(server, registry):
    _check_v2(server, registry, "FP64")


def test_v2_infer_fp32_columns(server, registry):
    _check_v2(server, registry, "FP32")


# -- authentication and open endpoints -------------------------------------------------------------


def _bearer(secret: str, roles: list[Role], ttl: timedelta = timedelta(hours=1)) -> dict:
    return {"Authorization": "Bearer " + TokenService(secret).mint("someone", roles, ttl=ttl)}


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        pytest.param({}, 401, "missing bearer token", id="no-credential"),
        pytest.param(
            _bearer(JWT_SECRET, [Role.CLINICIAN], ttl=timedelta(seconds=-5)),
            401,
            "token expired",
            id="expired-token",
        ),
        pytest.param(
            _bearer("another-secret-" + "o" * 32, [Role.CLINICIAN]),
            401,
            "signature is invalid",
            id="other-secret",
        ),
        pytest.param({"Authorization": "Bearer not.a.token"}, 401, "invalid token", id="garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwdw=="}, 401, "bearer", id="basic-auth"),
        pytest.param(_bearer(JWT_SECRET, [Role.REVIEWER]), 403, "reviewer", id="reviewer-only"),
        pytest.param({"X-API-Key": "wrong-key"}, 401, "invalid API key", id="wrong-api-key"),
        pytest.param({"X-API-Key": API_KEY}, 200, None, id="api-key"),
        pytest.param(_bearer(JWT_SECRET, [Role.ML_ENGINEER]), 200, None, id="ml-engineer"),
    ],
)
def test_credentials(server, registry, headers, status, message):
    body = {"instances": [{"patient_key": registry.keys[0], "history": history()}]}
    for path, payload in (
        (PREDICT, body),
        (INFER, v2_body({registry.keys[0]: history()}, "FP64")),
    ):
        response = server.request("POST", path, auth=None, headers=headers, json=payload)
        answer = expect(response, status, server)
        if message is not None:
            assert message.lower() in answer["error"].lower()
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"


def test_health_and_metrics_are_open(server):
    for path, check in (
        ("/v2/health/live", lambda b: b["live"] is True),
        ("/v2/health/ready", lambda b: b["ready"] is True),
        (f"/v2/models/{MODEL}/ready", lambda b: b["ready"] is True),
        (f"/v1/models/{MODEL}", lambda b: b["ready"] is True),
        ("/", lambda b: b),
    ):
        assert check(expect(server.request("GET", path, auth=None), 200, server)), path
    response = server.request("GET", "/metrics", auth=None)
    assert response.status_code == 200
    assert "novamind_served_model_version" in response.text
    # but not the model's documentation or metadata
    assert server.request("GET", f"/v2/models/{MODEL}", auth=None).status_code == 401


# -- bad input -------------------------------------------------------------------------------------


def _v1(**instance):
    return {"json": {"instances": [instance]}}


def _history_with(index: int, **changes) -> list[dict]:
    rows = history()
    rows[index] = rows[index] | changes
    return rows


def _v2_with(replace: dict | None = None, add: dict | None = None) -> dict:
    body = v2_body({"KEY": history()})
    if replace:
        body["inputs"] = [replace if t["name"] == replace["name"] else t for t in body["inputs"]]
    if add:
        body["inputs"].append(add)
    return {"path": INFER, "json": body}


BAD_INPUT = [
    pytest.param(
        {
            "content": b'{"instances": [{"patient_key": ',
            "headers": {"content-type": "application/json"},
        },
        400,
        "the body is not valid json",
        id="malformed-json",
    ),
    pytest.param(
        {"content": b'{"instances": [{"patient_key": ', "headers": {"content-type": "text/plain"}},
        400,
        "the body is not valid json",  # whatever the content type says
        id="malformed-json-as-text",
    ),
    pytest.param({"json": {"instances": []}}, 400, "empty batch", id="no-instances"),
    pytest.param({"json": {"rows": []}}, 400, '{"instances": [...]}', id="no-instances-key"),
    pytest.param(
        _v1(history=history()), 400, "instances[0] needs a string 'patient_key'", id="no-key"
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(3, mood="NaN")),
        400,
        "instances[0].history[3].mood must be a number",
        id="mood-not-a-number",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=history(days=3)),
        400,
        "has 3 days of history; the model needs 28 consecutive days",
        id="three-days",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(2, day="2025-02-30")),
        400,
        "history[2].day is not a date",
        id="impossible-date",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(2, pulse=70)),
        400,
        "history[2] has fields this model does not take",
        id="unknown-field",
    ),
    pytest.param(
        _v1(patient_key="p_" + "0" * 24),
        400,
        "no stored history for patient",
        id="unknown-stored-patient",
    ),
    pytest.param(
        _v2_with(add={"name": "bogus", "datatype": "FP32", "shape": [30], "data": [1.0] * 30}),
        400,
        "is not an input of this model",
        id="v2-unknown-tensor",
    ),
    pytest.param(
        _v2_with(replace={"name": "mood", "datatype": "BYTES", "shape": [30], "data": ["5"] * 30}),
        400,
        "'mood' must be FP32, got BYTES",
        id="v2-wrong-datatype",
    ),
    pytest.param(
        _v2_with(replace={"name": "mood", "datatype": "FP32", "shape": [29], "data": [5.0] * 29}),
        400,
        "input tensors differ in length",
        id="v2-different-lengths",
    ),
    pytest.param(
        {
            "path": INFER,
            "content": b'{"inputs": [',
            "headers": {"content-type": "application/json"},
        },
        400,
        "not a V2 inference request: Invalid JSON",
        id="v2-malformed-json",
    ),
    pytest.param(
        {
            "path": INFER,
            "json": {"inputs": [{"name": "patient_key", "shape": [1], "data": ["KEY"]}]},
        },
        400,
        "inputs.0.datatype: Field required",
        id="v2-tensor-without-datatype",
    ),
    pytest.param(
        {"path": INFER, "json": {"id": "x"}},
        400,
        "inputs: Field required",
        id="v2-no-inputs",
    ),
    pytest.param(
        {"path": "/v1/models/no-such-model:predict", "json": {"instances": []}},
        404,
        "no such model",
        id="v1-unknown-model",
    ),
    pytest.param(
        {"path": "/v2/models/no-such-model/infer", "json": {"inputs": []}},
        404,
        "no such model",
        id="v2-unknown-model",
    ),
    pytest.param(
        {
            "content": b'{"instances": [' + b" " * (1 << 20) + b"]}",
            "headers": {"content-type": "application/json"},
        },
        413,
        "request body over 1048576 bytes",
        id="body-over-1-MiB",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(4, day=history()[3]["day"])),
        400,
        "history has the same day twice",
        id="same-day-twice",
    ),
    pytest.param(
        {
            "json": {
                "instances": [
                    {"patient_key": "KEY", "history": history()},
                    {"patient_key": "KEY", "history": history(days=28)},
                ]
            }
        },
        400,
        "a patient appears twice with overlapping days",
        id="patient-twice-overlapping",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(5, day=None)),
        400,
        "day",
        id="null-day",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(0, day="2025-03-01T00:00:00+05:00")),
        400,
        "day",
        id="mixed-time-zones",
    ),
    pytest.param(
        _v1(patient_key="KEY", history=history(end=date(2262, 4, 10))),
        400,
        "day",
        id="forecast-past-2262",
    ),
]


@pytest.mark.parametrize(("request_args", "status", "message"), BAD_INPUT)
def test_bad_input_is_refused_and_the_server_keeps_serving(
    server, registry, request_args, status, message
):
    args = dict(request_args)
    path = args.pop("path", PREDICT)
    if "json" in args:  # a real pseudonym where the case says KEY
        text = json.dumps(args["json"]).replace('"KEY"', json.dumps(registry.keys[5]))
        args["json"] = json.loads(text)
    response = server.request("POST", path, **args)
    answer = expect(response, status, server)
    assert message.lower() in answer["error"].lower(), answer
    after = server.predict([{"patient_key": registry.keys[5], "history": history()}])
    expect(after, 200, server)


# Inputs that once reached a 500 (each leaking "ExceptionType: message"), or were accepted
# when they should not be. SECRET stands for a value a client sent: it must come back in
# no answer and no log line.
SECRET = "Jane-Q-Public-1970"
DEEP = b"[" * 5000 + b"]" * 5000
NON_UTF8 = b"Bearer \xff\xfe\xfd"


def _binary_v2(header_length: int, payload: bytes) -> dict:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "mood",
                    "datatype": "FP32",
                    "shape": [30],
                    "parameters": {"binary_data_size": 120},
                }
            ]
        }
    ).encode()
    return {
        "path": INFER,
        "content": header + payload,
        "headers": {
            "content-type": "application/octet-stream",
            "inference-header-content-length": str(header_length),
        },
    }


HARDENED = [
    pytest.param({"headers": {"Authorization": NON_UTF8}, "auth": None}, 401, id="non-utf8-auth"),
    pytest.param({"auth": "ROLES=5"}, 401, id="token-roles-a-number"),
    pytest.param({"content": DEEP, "headers": {"content-type": "text/plain"}}, 400, id="deep-text"),
    pytest.param(
        {"content": DEEP, "headers": {"content-type": "application/json"}}, 400, id="deep-json"
    ),
    pytest.param(
        {"path": INFER, "content": DEEP, "headers": {"content-type": "application/json"}},
        400,
        id="v2-deep-json",
    ),
    pytest.param(_v1(patient_key="KEY", history=_history_with(1, day=20250301)), 400, id="int-day"),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(1, day=[SECRET, 2])), 400, id="ragged-day"
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(1, day=SECRET)), 400, id="name-as-day"
    ),
    pytest.param(
        _v1(patient_key="KEY", history=_history_with(2, mood=[5.0, SECRET])),
        400,
        id="ragged-value",
    ),
    pytest.param(_v1(patient_key="KEY", history={"day": SECRET}), 400, id="history-an-object"),
    pytest.param({"json": {"instances": SECRET}}, 400, id="instances-a-string"),
    pytest.param({"json": {"instances": [SECRET]}}, 400, id="instance-a-string"),
    pytest.param(_v1(patient_key=SECRET, history=history()), 400, id="name-as-patient-key"),
    pytest.param(
        _v2_with(replace={"name": "mood", "datatype": "FP32", "shape": [30], "data": [[1.0], 2.0]}),
        400,
        id="v2-ragged-data",
    ),
    pytest.param(
        _v2_with(
            replace={"name": "mood", "datatype": "FP32", "shape": [30], "data": [SECRET] * 30}
        ),
        400,
        id="v2-text-as-numbers",
    ),
    pytest.param(
        _v2_with(
            replace={"name": "mood", "datatype": "FP32", "shape": [2, 15], "data": [5.0] * 30}
        ),
        400,
        id="v2-two-dimensional",
    ),
    pytest.param(
        _v2_with(add={"name": SECRET, "datatype": "FP32", "shape": [30], "data": [1.0] * 30}),
        400,
        id="v2-name-as-tensor",
    ),
    pytest.param(_binary_v2(10_000, b"\x00" * 8), 400, id="v2-binary-header-too-long"),
    pytest.param(_binary_v2(0, b"\x00" * 8), 400, id="v2-binary-no-header"),
    pytest.param(
        {
            "path": INFER,
            "content": b"{}",
            "headers": {"inference-header-content-length": "-5"},
        },
        400,
        id="v2-binary-negative-length",
    ),
]


@pytest.mark.parametrize(("request_args", "status"), HARDENED)
def test_no_bad_input_reaches_a_500_or_echoes_what_was_sent(server, registry, request_args, status):
    args = dict(request_args)
    path = args.pop("path", PREDICT)
    if args.get("auth") == "ROLES=5":
        now = time.time()
        claims = {"sub": "x", "roles": 5, "iss": "novamind", "aud": "novamind-api"}
        claims |= {"iat": now, "exp": now + 600}
        args["auth"] = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    if "json" in args:
        text = json.dumps(args["json"]).replace('"KEY"', json.dumps(registry.keys[5]))
        args["json"] = json.loads(text)
    log_before = len(server.log())
    response = server.request("POST", path, **args)
    assert response.status_code == status, response.text[:500]
    answer = response.json()
    assert set(answer) == {"error"}
    assert SECRET not in response.text and "Error :" not in response.text
    assert not any(name in answer["error"] for name in ("TypeError", "ValueError", "Recursion"))
    assert SECRET not in server.log()[log_before:]
    after = server.predict([{"patient_key": registry.keys[5], "history": history()}])
    expect(after, 200, server)


def _two_days_far_apart() -> list[dict]:
    return [{"day": "1900-01-01", "mood": 5.0}, {"day": HISTORY_END.isoformat(), "mood": 6.0}]


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        pytest.param(
            _v1(patient_key="KEY", history=_two_days_far_apart()),
            "history spans",
            id="1900-to-today-v1",
        ),
        pytest.param(
            {"path": INFER, "json": v2_body({"KEY": _two_days_far_apart()})},
            "history spans",
            id="1900-to-today-v2",
        ),
        pytest.param(
            {
                "path": INFER,
                "json": v2_body({f"p_{i:024x}": history(days=1) for i in range(257)}),
            },
            "at most 256 patients per request",
            id="v2-257-patients",
        ),
        pytest.param(
            {"json": {"instances": [{"patient_key": "KEY", "history": history()}] * 257}},
            "at most 256 instances per request",
            id="v1-257-instances",
        ),
        pytest.param(
            {
                "path": INFER,
                "json": {
                    "inputs": [
                        {
                            "name": "patient_key",
                            "datatype": "BYTES",
                            "shape": [16_385],
                            "data": ["KEY"] * 16_385,
                        }
                    ]
                },
            },
            "at most 16384 rows per request",
            id="v2-16385-rows",
        ),
    ],
)
def test_work_per_request_is_bounded(server, registry, request_args, message):
    """A request that would cost more than a bound allows is a 400 naming the bound,
    refused before any forecast work (a 16 KiB request once took 10.7 s and 3.6 GB)."""
    args = dict(request_args)
    path = args.pop("path", PREDICT)
    text = json.dumps(args["json"]).replace('"KEY"', json.dumps(registry.keys[5]))
    answer = expect(server.request("POST", path, json=json.loads(text)), 400, server)
    assert message in answer["error"]


def test_many_stored_patients_in_one_request(server, registry):
    """Sixty patients by pseudonym only: each history read through the store's index."""
    keys = registry.keys[:60]
    answer = expect(server.predict([{"patient_key": k} for k in keys]), 200, server)
    assert [p["patient_key"] for p in answer["predictions"]] == keys


def test_made_up_model_names_make_no_metric_series(server):
    for i in range(5):
        server.request("POST", f"/v1/models/made-up-{i}:predict", auth=None, json={})
    text = server.metrics()
    assert "made-up-" not in text
    assert 'novamind_requests_total{model="-",status="401"}' in text


def test_a_chunked_body_over_the_limit_is_refused(server, registry):
    def chunks():
        yield b'{"instances": [{"patient_key": "' + registry.keys[0].encode() + b'", "pad": "'
        for _ in range(3):
            yield b"x" * (1 << 20)
        yield b'"}]}'

    response = server.request(
        "POST", PREDICT, content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text[:300]


def test_a_raw_identifier_is_refused_as_patient_key(server, registry):
    raw = registry.raw_patients["patient_id"].iloc[0]
    assert raw.startswith("MRN")
    response = server.predict([{"patient_key": raw, "history": history()}])
    assert 400 <= response.status_code < 500, response.text[:300]
    assert raw not in response.text


def test_out_of_range_values_do_not_give_null_forecasts(server, registry):
    rows = [r | {"mood": 1e308} for r in history()]
    response = server.predict([{"patient_key": registry.keys[6], "history": rows}])
    assert response.status_code < 500, response.text[:300]
    if response.status_code == 200:
        for f in response.json()["predictions"][0]["forecast"]:
            assert all(isinstance(f[q], float) for q in ("median", "lower", "upper")), f
    else:
        assert "mood" in response.json()["error"]


# -- concurrency and micro-batching ----------------------------------------------------------------


async def _burst(server: Server, bodies: list[dict], limit: int = 32) -> list:
    """Send every body at once (at most ``limit`` in flight); a transport error is returned."""
    gate = asyncio.Semaphore(limit)
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    async with httpx.AsyncClient(
        base_url=server.base, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one(body):
            async with gate:
                try:
                    return await client.post(PREDICT, json=body)
                except httpx.TransportError as exc:
                    return exc

        return await asyncio.wait_for(asyncio.gather(*(one(b) for b in bodies)), 120)


def test_concurrent_requests_are_batched_without_mixing(server, registry):
    key = registry.keys[7]  # the SAME patient key in every request, different histories
    bodies = [
        {
            "instances": [
                {
                    "patient_key": key,
                    "history": history(
                        end=HISTORY_END + timedelta(days=3 * i), days=28 + i % 6, seed=100 + i
                    ),
                }
            ]
        }
        for i in range(32)
    ]
    before = server.metrics()
    alone = [expect(server.request("POST", PREDICT, json=b), 200, server) for b in bodies]
    distinct = {json.dumps(a["predictions"][0]["forecast"]) for a in alone}
    assert len(distinct) == 32  # a mixed-up answer could not go unnoticed

    sent = 32
    for _burst_number in range(3):
        start = server.metrics()
        results = asyncio.run(_burst(server, bodies))
        for i, response in enumerate(results):
            assert isinstance(response, httpx.Response), f"request {i}: {response!r}"
            got = expect(response, 200, server)
            assert same_forecast(got, alone[i]), f"request {i} got another request's answer"
        sent += 32
        end = server.metrics()
        batches = metric(end, "novamind_micro_batch_size_count", model=MODEL) - metric(
            start, "novamind_micro_batch_size_count", model=MODEL
        )
        singles = metric(end, "novamind_micro_batch_size_bucket", model=MODEL, le="1.0") - metric(
            start, "novamind_micro_batch_size_bucket", model=MODEL, le="1.0"
        )
        if singles < batches:  # some batch held more than one request
            break
    assert singles < batches, f"no micro-batch of more than one request in {batches} batches"
    ok_before = metric(before, "novamind_requests_total", model=MODEL, status="200")
    ok_after = metric(end, "novamind_requests_total", model=MODEL, status="200")
    assert ok_after - ok_before >= sent


def test_a_failing_request_does_not_fail_the_others_in_its_batch(server, registry):
    key = registry.keys[8]
    good = {"instances": [{"patient_key": key, "history": history(seed=7)}]}
    poison = {"instances": [{"patient_key": key, "history": history(end=date(2262, 4, 10))}]}
    bodies = [good] * 8 + [poison] + [good] * 7
    for _round in range(5):
        results = asyncio.run(_burst(server, bodies, limit=16))
        innocent = [r for i, r in enumerate(results) if i != 8]
        codes = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in innocent]
        assert codes == [200] * 15, codes


# -- champion hot reload ---------------------------------------------------------------------------


def _served(server: Server, key: str) -> tuple[str, float]:
    body = expect(server.predict([{"patient_key": key, "history": history()}]), 200, server)
    gauge = metric(server.metrics(), "novamind_served_model_version", model=MODEL)
    return body["predictions"][0]["model_version"], gauge


def _register_new(registry) -> str:
    from novamind_core.families.forecasting.registration import register_forecaster

    registered = register_forecaster(
        registry.bundle_dir, registry.evaluation, GATES, DATASET, parent_run_id=""
    )
    return str(registered["version"])


def _wait_for_refusals(server, count: int) -> None:
    deadline = time.monotonic() + 20
    while metric(server.metrics(), "novamind_load_refusals_total", model=MODEL) < count:
        assert time.monotonic() < deadline, "the server never refused the version"
        time.sleep(0.25)


def test_hot_reload_follows_an_approved_champion_and_survives_a_broken_one(server, registry):
    from mlflow.tracking import MlflowClient

    key = registry.keys[9]
    assert _served(server, key) == (registry.version, float(registry.version))

    new = _register_new(registry)
    assert new != registry.version
    sign_approval(registry.approval_key, MODEL, new)
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", new)
    deadline = time.monotonic() + 20
    while (served := _served(server, key)) != (new, float(new)):
        assert time.monotonic() < deadline, f"still serving {served} 20 s after the move"
        time.sleep(0.25)

    # a champion whose artifacts do not exist: refused, the old model stays
    refused = metric(server.metrics(), "novamind_load_refusals_total", model=MODEL)
    broken = str(client.create_model_version(MODEL, "/nonexistent/path", run_id=None).version)
    client.set_registered_model_alias(MODEL, "champion", broken)
    _wait_for_refusals(server, refused + 2)
    assert _served(server, key) == (new, float(new))
    assert expect(server.request("GET", "/v2/health/ready", auth=None), 200, server)["ready"]
    assert server.proc.poll() is None


def test_the_approval_cannot_be_skipped_through_the_registry(server, registry):
    """Whoever can write to the registry (no reviewer key) moves the alias to a version of
    their own, with forged decision tags: the server keeps serving the approved version,
    says so in /metrics, the log and the audit trail, and `models list` shows it."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", registry.version)
    key = registry.keys[9]
    deadline = time.monotonic() + 20
    while _served(server, key)[0] != registry.version:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    rogue = _register_new(registry)
    client.set_model_version_tag(MODEL, rogue, "decision", "approved")
    client.set_model_version_tag(MODEL, rogue, "decision.reviewer", "alice")
    refused = metric(server.metrics(), "novamind_load_refusals_total", model=MODEL)
    client.set_registered_model_alias(MODEL, "champion", rogue)
    _wait_for_refusals(server, refused + 1)
    assert _served(server, key)[0] == registry.version
    assert f"{MODEL} version {rogue} is not served: it carries no signed approval" in server.log()
    trail = audit_trail_of(registry.env)
    assert any(
        e["action"] == "load_refused" and f"version {rogue} is not served" in e["details"]["reason"]
        for e in trail.entries()
    )
    listed = subprocess.run(
        [sys.executable, "-m", "novamind_core.cli", "models", "list"],
        env=registry.env,
        cwd=registry.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "UNAPPROVED" in listed.stdout, listed.stdout + listed.stderr


def test_files_changed_after_approval_are_not_served(server, registry):
    """An approved version whose artifacts are replaced afterwards (say, a pickle that runs
    code when loaded): its digest no longer matches the approval, so it is not loaded."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", registry.version)
    target = _register_new(registry)
    sign_approval(registry.approval_key, MODEL, target)
    model_id = client.get_model_version(MODEL, target).source.removeprefix("models:/")
    stored = Path(client.get_logged_model(model_id).artifact_location.removeprefix("file://"))
    pickled = next(p for p in stored.rglob("python_model.pkl"))
    pickled.write_bytes(pickled.read_bytes() + b"\x00")  # any change at all
    refused = metric(server.metrics(), "novamind_load_refusals_total", model=MODEL)
    client.set_registered_model_alias(MODEL, "champion", target)
    _wait_for_refusals(server, refused + 1)
    assert "its files differ from the approved ones" in server.log()
    assert _served(server, registry.keys[9])[0] == registry.version


# -- the payload log -------------------------------------------------------------------------------


def test_payload_log_holds_pseudonyms_only_and_is_encrypted(registry):
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    # a loadable champion, whatever an earlier test did to the alias
    MlflowClient().set_registered_model_alias(MODEL, "champion", registry.version)
    data_dir = registry.root / "payload-data"
    shutil.copytree(registry.data_dir / "store", data_dir / "store")
    server = Server(registry.env | {"NOVAMIND_DATA_DIR": str(data_dir)}, registry.root, "payload")
    keys = registry.keys[10:16]
    sent_history = {k: history(seed=i) for i, k in enumerate(keys[:3])}
    h1: dict[str, float] = {}
    try:
        server.start()
        for key, rows in sent_history.items():
            body = expect(server.predict([{"patient_key": key, "history": rows}]), 200, server)
            h1[key] = body["predictions"][0]["forecast"][0]["median"]
        body = expect(server.predict([{"patient_key": k} for k in keys[3:5]]), 200, server)
        h1 |= {p["patient_key"]: p["forecast"][0]["median"] for p in body["predictions"]}
        v2 = v2_body({keys[5]: history(seed=9)}, "FP64")
        out = v2_outputs(expect(server.request("POST", INFER, json=v2), 200, server))
        h1[keys[5]] = float(out.loc[out["horizon"] == 1, "median"].iloc[0])
        gauge = metric(server.metrics(), "novamind_served_model_version", model=MODEL)
        assert gauge == float(registry.version)
    finally:
        code = server.stop()
    assert code == 0, f"exit {code} (not a graceful SIGTERM):\n{server.log_tail()}"

    log = PayloadLog(data_dir, MODEL, KEY).read_all()
    assert len(log) == 6, log
    assert log["patient_key"].map(lambda k: bool(PSEUDONYM.match(k))).all()
    assert set(log["patient_key"]) == set(keys)
    assert (log["model_version"] == registry.version).all()
    assert {"logged_at", "prediction_h1", *VALUE_COLUMNS} <= set(log.columns)
    assert log["prediction_h1"].map(math.isfinite).all()
    for key, median in h1.items():
        logged = log.loc[log["patient_key"] == key, "prediction_h1"]
        assert logged.tolist() == pytest.approx([median], abs=2e-3), key
    for key, rows in sent_history.items():  # the last day's features of a sent history
        logged = log.loc[log["patient_key"] == key].iloc[0]
        assert logged["mood"] == pytest.approx(rows[-1]["mood"])
        assert logged["sleep_hours"] == pytest.approx(rows[-1]["sleep_hours"])

    text = log.astype(str).to_csv()
    assert "MRN" not in text
    for identifier in [*registry.raw_patients["patient_id"], *registry.raw_patients["name"]]:
        assert identifier not in text

    files = list((data_dir / "payloads" / MODEL).iterdir())
    assert files and all(f.name.endswith(".parquet.enc") for f in files), files
    for f in files:
        blob = f.read_bytes()
        assert b"PAR1" not in blob[:4] + blob[-4:]  # not a clear Parquet file
        for key in keys:
            assert key.encode() not in blob
            assert key[2:].encode() not in blob


def test_no_answered_request_loses_its_payload_row_when_the_server_is_killed(registry):
    """kill -9 with rows buffered (far fewer than a chunk): the journal keeps them, and the
    next server writes them out when it starts."""
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    MlflowClient().set_registered_model_alias(MODEL, "champion", registry.version)
    data_dir = registry.root / "kill-data"
    shutil.copytree(registry.data_dir / "store", data_dir / "store")
    env = registry.env | {"NOVAMIND_DATA_DIR": str(data_dir)}
    first = Server(env, registry.root, "killed")
    first.options[first.options.index("--poll-seconds") + 1] = "600"  # no flush by the poll
    keys = [f"p_{i:024x}" for i in range(100, 150)]
    try:
        first.start()
        for key in keys:
            expect(first.predict([{"patient_key": key, "history": history()}]), 200, first)
        first.proc.kill()  # SIGKILL: no flush, no goodbye
        first.proc.wait(10)
    finally:
        first.stop()
    assert PayloadLog(data_dir, MODEL, KEY).read_all().empty  # nothing flushed yet
    second = Server(env, registry.root, "after-kill")
    try:
        second.start()
    finally:
        assert second.stop() == 0
    log = PayloadLog(data_dir, MODEL, KEY).read_all()
    assert sorted(log["patient_key"]) == keys  # every answered row, once
    leftovers = [p.name for p in (data_dir / "payloads" / MODEL).iterdir()]
    assert all(name.endswith(".parquet.enc") for name in leftovers), leftovers
    trail = audit_trail_of(env)
    assert sum(e["action"] == "predict" for e in trail.entries()) == len(keys)


def test_a_malformed_tag_on_the_champion_stops_neither_start_nor_polling(registry):
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", registry.version)
    client.set_model_version_tag(MODEL, registry.version, "drift.status", "drift")
    client.set_model_version_tag(MODEL, registry.version, "drift.scores", "{not json")
    server = Server(registry.env, registry.root, "bad-tag")
    try:
        server.start()  # starts, with the bad tag present
        key = registry.keys[9]
        assert _served(server, key)[0] == registry.version
        deadline = time.monotonic() + 20
        while not metric(server.metrics(), "novamind_poll_errors_total", model=MODEL):
            assert time.monotonic() < deadline, "the bad tag was never counted"
            time.sleep(0.5)
        new = _register_new(registry)
        sign_approval(registry.approval_key, MODEL, new)
        client.set_registered_model_alias(MODEL, "champion", new)
        while _served(server, key)[0] != str(new):  # the poll thread still reloads
            assert time.monotonic() < deadline + 20, "the poll thread died on the bad tag"
            time.sleep(0.5)
    finally:
        server.stop()
        client.delete_model_version_tag(MODEL, registry.version, "drift.scores")
        client.set_registered_model_alias(MODEL, "champion", registry.version)


def test_two_workers_share_the_port_sum_their_metrics_and_each_flush_on_stop(registry):
    """``novamind serve --workers 2``: both processes answer on one port, /metrics counts
    every worker's requests, a killed worker is replaced, and on SIGTERM each worker
    writes its own payload-log rows (none lost) while the shared audit chain stays intact."""
    import psutil
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    MlflowClient().set_registered_model_alias(MODEL, "champion", registry.version)
    data_dir = registry.root / "workers-data"
    shutil.copytree(registry.data_dir / "store", data_dir / "store")
    server = Server(registry.env | {"NOVAMIND_DATA_DIR": str(data_dir)}, registry.root, "workers")
    server.options += ["--workers", "2"]
    keys = [f"p_{i:024x}" for i in range(1, 41)]

    def workers() -> list[psutil.Process]:
        children = psutil.Process(server.proc.pid).children()
        return [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]

    try:
        server.start()
        assert len(workers()) == 2
        for key in keys[:30]:  # a new connection each: the kernel spreads them
            expect(server.predict([{"patient_key": key, "history": history()}]), 200, server)
        ok = metric(server.metrics(), "novamind_requests_total", model=MODEL, status="200")
        assert ok == 30
        victim = workers()[0]
        victim.kill()
        victim.wait(10)
        deadline = time.monotonic() + 90
        while not (len(workers()) == 2 and victim.pid not in [p.pid for p in workers()]):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.5)
        for key in keys[30:]:  # the survivor answers meanwhile, the new one once loaded
            expect(server.predict([{"patient_key": key, "history": history()}]), 200, server)
    finally:
        code = server.stop()
    assert code == 0, f"exit {code} (not a graceful SIGTERM):\n{server.log_tail()}"

    log = PayloadLog(data_dir, MODEL, KEY).read_all()
    # the rows the killed worker had journaled were recovered by its replacement: every
    # answered request's row is written, and the chunks come from more than one worker
    logged = set(log["patient_key"])
    assert set(keys) <= logged, sorted(set(keys) - logged)
    assert len(list((data_dir / "payloads" / MODEL).glob("*.parquet.enc"))) >= 2
    trail = audit_trail_of(server.env)  # checked against the checkpoints the workers wrote
    assert trail.verify() == []
    assert sum(e["action"] == "predict" for e in trail.entries()) == 40


def test_workers_on_a_busy_port_fail_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["serve", "--port", str(port), "--workers", "2"]
        result = subprocess.run(
            [sys.executable, "-m", "novamind_core.cli", *command],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on port {port}" in result.stderr
    assert "Traceback" not in result.stderr
