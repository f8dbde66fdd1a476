"""The promotion workflow through the CLI, on a real MLflow registry (SQLite)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.settings import get_settings

EVALUATION = {
    "test": {
        "windows": 10,
        "scale": 1.0,
        "models": {
            "ensemble": {"mase": [0.7, 0.8], "coverage": [0.8, 0.79]},
            "seasonal_naive": {"mase": [1.0, 1.1]},
        },
    },
}


@pytest.fixture
def registry(env, tmp_path, monkeypatch):
    """Two versions of symptom-forecaster: 1 passed its gates, 2 failed one."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("NOVAMIND_JWT_SECRET", "j" * 48)
    get_settings.cache_clear()
    from novamind_core.infrastructure.registry.tracking import configure

    configure("symptom-forecasting")
    client = MlflowClient()
    client.create_registered_model("symptom-forecaster")
    for version, passed in (("1", True), ("2", False)):
        with mlflow.start_run() as run:
            mlflow.log_dict(EVALUATION, "evaluation.json")
            mlflow.log_text("not really a png", "fan_charts/fan_chart_1.png")
        client.create_model_version(
            "symptom-forecaster", f"runs:/{run.info.run_id}/model", run.info.run_id
        )
        client.set_model_version_tag(
            "symptom-forecaster", version, "gates_passed", str(passed).lower()
        )
        client.set_model_version_tag(
            "symptom-forecaster",
            version,
            "gate.interval_coverage_within_5_points",
            str(passed).lower(),
        )
    client.set_registered_model_alias("symptom-forecaster", "challenger", "2")
    return client


def invoke(*args, token=None):
    env = {"NOVAMIND_TOKEN": token} if token else {}
    return CliRunner().invoke(app, list(args), env=env)


def mint(role, subject="alice"):
    result = invoke("token", "--role", role, "--subject", subject)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_approve_review_reject_rollback(registry, env):
    reviewer = mint("reviewer")
    ok = invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        "1",
        "--reviewer",
        "alice",
        "--note",
        "fine",
        token=reviewer,
    )
    assert ok.exit_code == 0, ok.output
    assert str(registry.get_model_version_by_alias("symptom-forecaster", "champion").version) == "1"

    gated = invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        "2",
        "--reviewer",
        "alice",
        token=reviewer,
    )
    assert gated.exit_code == 1 and "--override" in gated.output

    review = invoke("models", "review", "symptom-forecaster", "--html", str(env / "review.html"))
    assert review.exit_code == 0, review.output
    assert "challenger 2 vs champion 1" in review.output
    page = (env / "review.html").read_text()
    assert "<table>" in page and "data:image/png;base64," in page

    forced = invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        "2",
        "--reviewer",
        "alice",
        "--override",
        "--reason",
        "urgent fix",
        token=reviewer,
    )
    assert forced.exit_code == 0, forced.output
    tags = registry.get_model_version("symptom-forecaster", "2").tags
    assert tags["decision.override"] == "true" and tags["decision.reason"] == "urgent fix"

    back = invoke("models", "rollback", "symptom-forecaster", "--reviewer", "alice", token=reviewer)
    assert back.exit_code == 0 and "rolled back to version 1" in back.output
    assert str(registry.get_model_version_by_alias("symptom-forecaster", "champion").version) == "1"

    trail = [
        json.loads(line)["action"]
        for line in (env / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    assert trail == ["promotion_approved", "promotion_approved", "promotion_rolled_back"]
    assert invoke("audit", "verify").exit_code == 0


@pytest.mark.parametrize(
    ("token_of", "code", "message"),
    [
        (lambda: None, 6, "missing bearer token"),
        (lambda: "forged.token.value", 6, "invalid token"),
        (lambda: mint("clinician"), 7, "needs the reviewer role"),
        (lambda: mint("reviewer", subject="mallory"), 7, "speaks for 'mallory'"),
    ],
)
def test_unauthorized_callers_change_nothing(registry, env, token_of, code, message):
    result = invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        "1",
        "--reviewer",
        "alice",
        token=token_of(),
    )
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "champion" not in registry.get_registered_model("symptom-forecaster").aliases


def test_unknown_version_is_named(registry, env):
    result = invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        "9",
        "--reviewer",
        "alice",
        token=mint("reviewer"),
    )
    assert result.exit_code == 8 and "has no version 9 (versions: 1, 2)" in result.output


def test_models_list_shows_versions_with_the_family_figures_readable_in_a_log(registry, env):
    import os
    import subprocess
    import sys

    client_env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # not a terminal
    listed = subprocess.run(
        [sys.executable, "-m", "novamind_core.cli", "models", "list"],
        capture_output=True,
        text=True,
        env=client_env,
        cwd=env.parent,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    out = listed.stdout
    assert "…" not in out  # names are not cut short when written to a pipe
    assert "symptom-forecaster" in out and "test MASE" in out and "coverage" in out
    (one,) = [line for line in out.splitlines() if line.strip("│ ").startswith("1 ")]
    (two,) = [line for line in out.splitlines() if line.strip("│ ").startswith("2 ")]
    assert "passed" in one
    assert "challenger" in two and "failed: interval_coverage_within_5_points" in two
