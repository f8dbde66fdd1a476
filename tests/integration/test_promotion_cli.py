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
    # the default key set: the data keys and public keys in .env, the token issuer's and
    # the reviewers' signing keys as files of their own
    keys = CliRunner().invoke(
        app, ["data", "keygen", "--env-file", ".env", "--secrets-dir", str(tmp_path / "keys")]
    )
    assert keys.exit_code == 0, keys.output
    monkeypatch.setenv("NOVAMIND_JWT_SIGNING_KEY_FILE", str(tmp_path / "keys/token-signing.pem"))
    monkeypatch.setenv(
        "NOVAMIND_APPROVAL_SIGNING_KEY_FILE", str(tmp_path / "keys/approval-signing.pem")
    )
    get_settings.cache_clear()
    from novamind_core.infrastructure.registry.tracking import configure

    configure("symptom-forecasting")
    client = MlflowClient()
    client.create_registered_model("symptom-forecaster")
    for version, passed in (("1", True), ("2", False)):
        with mlflow.start_run() as run:
            mlflow.log_dict(EVALUATION, "evaluation.json")
            mlflow.log_text("not really a png", "fan_charts/fan_chart_1.png")
            mlflow.log_text(f"weights of version {version}", "model/weights.txt")
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


def approve(version: str, reviewer: str = "alice", *extra: str, token: str | None = None):
    return invoke(
        "models",
        "approve",
        "symptom-forecaster",
        "--version",
        version,
        "--reviewer",
        reviewer,
        *extra,
        token=token or mint("reviewer", subject=reviewer),
    )


def test_an_approval_is_signed_and_bound_to_the_version_files(registry, env):
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.registry.approvals import UnapprovedVersion

    assert approve("1").exit_code == 0
    version = registry.get_model_version("symptom-forecaster", "1")
    record = json.loads(version.tags["approval"])
    assert record["reviewer"] == "alice" and len(record["digest"]) == 64
    approvals = composition.approvals()
    assert approvals.verified_record("symptom-forecaster", "1", version.tags) == record
    forged = dict(version.tags) | {"approval": version.tags["approval"].replace('"1"', '"2"')}
    with pytest.raises(UnapprovedVersion, match="signature does not verify"):
        approvals.verified_record("symptom-forecaster", "1", forged)


def test_no_one_approves_their_own_training_run_without_saying_so(registry, env):
    registry.set_model_version_tag("symptom-forecaster", "1", "trained_by", "alice")
    refused = approve("1")
    assert refused.exit_code == 7 and "another reviewer must approve it" in refused.output
    assert "champion" not in registry.get_registered_model("symptom-forecaster").aliases
    assert approve("1", "bob").exit_code == 0  # someone else may
    registry.set_model_version_tag("symptom-forecaster", "2", "trained_by", "alice")
    alone = approve(
        "2", "alice", "--override", "--reason", "x", "--self-approval", "one-person lab"
    )
    assert alone.exit_code == 0, alone.output
    tags = registry.get_model_version("symptom-forecaster", "2").tags
    assert tags["decision.self_approval"] == "one-person lab"
    entries = [
        json.loads(line) for line in (env / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    assert entries[-1]["details"]["self_approval"] == "one-person lab"


def test_a_rejected_version_needs_a_new_review_before_approval(registry, env):
    bob = mint("reviewer", subject="bob")
    rejected = invoke(
        "models",
        "reject",
        "symptom-forecaster",
        "--version",
        "1",
        "--reviewer",
        "bob",
        "--note",
        "too wide intervals",
        token=bob,
    )
    assert rejected.exit_code == 0, rejected.output
    again = approve("1")
    assert again.exit_code == 1 and "was rejected by bob" in again.output
    reopened = invoke(
        "models",
        "reopen",
        "symptom-forecaster",
        "--version",
        "1",
        "--reviewer",
        "alice",
        "--note",
        "intervals recalibrated",
        token=mint("reviewer"),
    )
    assert reopened.exit_code == 0, reopened.output
    assert approve("1").exit_code == 0


def test_a_token_for_longer_than_allowed_is_a_clear_error(registry, env):
    result = invoke(
        "token", "--role", "reviewer", "--subject", "alice", "--ttl-minutes", "99999999999"
    )
    assert result.exit_code == 1 and "over the limit" in result.output
