"""Production mode: register → review → approve → serve against an MLflow tracking server
backed by the machine's PostgreSQL, started here."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from novamind_core.domain.security import Role
from novamind_core.infrastructure.security.tokens import TokenService
from tests.integration.test_optuna_postgres import postgres_database  # noqa: F401 - fixture
from tests.support.approvals import approval_keys
from tests.support.tiny_forecaster import train_tiny_bundle

pytestmark = pytest.mark.postgres
KEY = b"p" * 32
SECRET = "s" * 48


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def tracking_server(postgres_database, tmp_path):  # noqa: F811
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            postgres_database,
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "mlflow-server.log").open("w"),  # an unread pipe could block it
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 120, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_register_review_approve_serve_on_postgres(tracking_server, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from novamind_core.families.forecasting.registration import register_forecaster
    from novamind_core.infrastructure.settings import get_settings

    public, pem = approval_keys(tmp_path / "reviewer")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
    env |= {
        "MLFLOW_TRACKING_URI": tracking_server,
        "NOVAMIND_JWT_SECRET": SECRET,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_DATA_DIR": str(tmp_path / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(b"a" * 32).decode(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    _, evaluation, _ = train_tiny_bundle(tmp_path / "bundle", KEY)
    gates = {
        "beats_seasonal_naive_mase_every_horizon": True,
        "interval_coverage_within_5_points": True,
        "data_validation_passed": True,
    }
    registered = register_forecaster(
        tmp_path / "bundle", evaluation, gates, {"version": "v0001", "fingerprint": "f" * 64}, ""
    )
    assert registered["challenger"] is True

    cli = [sys.executable, "-m", "novamind_core.cli"]
    review = subprocess.run(
        [*cli, "models", "review", "symptom-forecaster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert review.returncode == 0, review.stderr[-2000:]
    token = TokenService(SECRET).mint("alice", [Role.REVIEWER])
    approve = subprocess.run(
        [
            *cli,
            "models",
            "approve",
            "symptom-forecaster",
            "--version",
            registered["version"],
            "--reviewer",
            "alice",
        ],
        env=env | {"NOVAMIND_TOKEN": token, "NOVAMIND_APPROVAL_SIGNING_KEY_FILE": str(pem)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert approve.returncode == 0, approve.stderr[-2000:]
    client = MlflowClient(tracking_server)
    assert (
        str(client.get_model_version_by_alias("symptom-forecaster", "champion").version)
        == (registered["version"])
    )

    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/v2/health/ready", 120, server)
        history = [
            {"day": f"2025-03-{d:02d}", "mood": 6.0, "sleep_hours": 7.0} for d in range(1, 31)
        ]
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/models/symptom-forecaster:predict",
            json={"instances": [{"patient_key": "p_" + uuid.uuid4().hex[:24], "history": history}]},
            headers={
                "Authorization": "Bearer " + TokenService(SECRET).mint("dr", [Role.CLINICIAN])
            },
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        prediction = reply.json()["predictions"][0]
        assert prediction["model_version"] == registered["version"]
        assert len(prediction["forecast"]) == 7
    finally:
        server.terminate()
        server.wait(timeout=30)
