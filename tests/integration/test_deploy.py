"""Manifests: schema validation, rendering for the champion, applying without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.deployment.manifests import MANIFESTS, validate_documents
from novamind_core.infrastructure.settings import get_settings


@pytest.fixture
def champion(env, tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    get_settings.cache_clear()
    from novamind_core.infrastructure.registry.tracking import configure

    configure("symptom-forecasting")
    client = MlflowClient()
    client.create_registered_model("symptom-forecaster")
    with mlflow.start_run() as run:
        mlflow.log_text("x", "model/MLmodel")
    client.create_model_version(
        "symptom-forecaster", f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    for key, value in {"dataset_version": "v0007", "decision.reviewer": "alice"}.items():
        client.set_model_version_tag("symptom-forecaster", "1", key, value)
    client.set_registered_model_alias("symptom-forecaster", "champion", "1")
    return client


CLUSTER_MANIFESTS = sorted(
    p
    for folder in ("base", "mlflow", "pipelines", "twin")
    for p in (MANIFESTS / folder).glob("*.yaml")
)


@pytest.mark.parametrize("path", CLUSTER_MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cluster_manifests_are_valid(path: Path):
    assert validate_documents(path.read_text()) == []


def test_every_setting_a_pipeline_step_reads_is_in_the_config_map_or_the_secret():
    import yaml

    from novamind_core.infrastructure.kfp import cluster

    config = yaml.safe_load((MANIFESTS / "base" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((MANIFESTS / "base" / "secret.example.yaml").read_text())
    assert set(cluster.CONFIG_ENV) <= set(config)
    assert set(cluster.SECRET_ENV) | set(cluster.OPTIONAL_SECRET_ENV) <= set(secret["stringData"])


def test_rendered_inference_service_is_valid_and_pins_the_champion(champion, tmp_path):
    out = tmp_path / "isvc.yaml"
    result = CliRunner().invoke(
        app,
        [
            "deploy",
            "render",
            "symptom-forecaster",
            "--out",
            str(out),
            "--image",
            "registry.local/novamind:1",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(out.read_text())
    container = doc["spec"]["predictor"]["containers"][0]
    assert doc["metadata"]["annotations"]["novamind.io/model-version"] == "1"
    assert container["image"] == "registry.local/novamind:1"
    env = {e["name"]: e for e in container["env"]}
    assert env["NOVAMIND_MODEL_URI"]["value"] == "models:/symptom-forecaster/1"
    assert env["NOVAMIND_ENCRYPTION_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "ml-secrets"
    assert env["NOVAMIND_AUDIT_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "audit_key"
    # verifiers get only public keys: no token or approval signing secret in the pod
    assert "NOVAMIND_JWT_SECRET" not in env
    assert (
        env["NOVAMIND_APPROVAL_PUBLIC_KEY"]["valueFrom"]["configMapKeyRef"]["name"] == "ml-config"
    )
    assert container["args"][:5] == ["serve", "--model", "symptom-forecaster", "--host", "0.0.0.0"]
    assert container["resources"] == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "1", "memory": "2Gi"},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert validate_documents(out.read_text()) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("containerPort: 8080", "containerPort: http"), "expected int"),
        (lambda t: t.replace("minReplicas:", "minReplica:"), "unknown field"),
        (
            lambda t: t.replace("      - name: kserve-container\n", "      - image2: x\n"),
            "required by V1Container",
        ),
    ],
)
def test_schema_violations_are_named(champion, tmp_path, edit, message):
    out = tmp_path / "isvc.yaml"
    CliRunner().invoke(app, ["deploy", "render", "symptom-forecaster", "--out", str(out)])
    broken = tmp_path / "broken.yaml"
    broken.write_text(edit(out.read_text()))
    result = CliRunner().invoke(app, ["deploy", "validate", str(broken)])
    assert result.exit_code == 1 and message in result.output


def test_kubernetes_kinds_are_checked_too(tmp_path):
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {retries: 3}\n"
    assert any("is not of type 'string'" in p for p in validate_documents(bad))


def test_apply_without_a_cluster_is_a_clear_error(champion):
    result = CliRunner().invoke(app, ["deploy", "apply", "symptom-forecaster"])
    assert result.exit_code == 5
    assert "no Kubernetes cluster is configured" in result.output


def test_render_without_a_champion_is_a_clear_error(champion):
    champion.delete_registered_model_alias("symptom-forecaster", "champion")
    result = CliRunner().invoke(app, ["deploy", "render", "symptom-forecaster"])
    assert result.exit_code == 8 and "has no champion" in result.output


def test_deploy_pipeline_step_renders_the_champion(champion, env):
    result = CliRunner().invoke(app, ["pipeline", "run", "deploy-champion", "--verbose"])
    assert result.exit_code == 0, result.output
    assert "✓ render-manifest" in result.output
    assert "Executing task" in result.output  # --verbose streams the runner's own output
    rendered = list((env / "kfp").rglob("manifest"))
    assert rendered and 'novamind.io/model-version: "1"' in rendered[0].read_text()
