"""The twin over all three families' real champions (slow: it runs the three training
pipelines on a 300-patient cohort, about 6 minutes on 2 cores).

Each family's champion is served by its own `novamind serve --model M` on loopback and the
twin by `novamind twin serve` (`twin/local_stack.py`, as `novamind twin try` and the
benchmark start them): a full answer joins the three parts; with the correlator's server
stopped the answer is partial, marked, and comes within the deadline.
"""

from __future__ import annotations

import base64
import os
import time

import httpx
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.raw_tables import write_tables
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate
from tests.support.approvals import approval_keys, sign_approval

pytestmark = pytest.mark.slow
KEY = bytes(range(32))
AUDIT_KEY = bytes(range(32, 64))
API_KEY = "twin-full-test-api-key-0123456789abcdef"
MODELS = ("symptom-forecaster", "biometric-correlator", "medication-response")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from novamind_core.twin.local_stack import local_stack

    root = tmp_path_factory.mktemp("twin-full")
    public, pem = approval_keys(root / "reviewer")
    env = {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_DATA_DIR": str(root / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(AUDIT_KEY).decode(),
        "NOVAMIND_JWT_SECRET": "twin-full-test-jwt-secret-" + "s" * 24,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "NOVAMIND_API_KEY": API_KEY,
        "NOVAMIND_TWIN_DEADLINE": "3.0",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(root / 'mlflow.db').as_posix()}",
    }
    cohort = generate(CohortConfig(patients=300, days=150, seed=5))
    write_tables(cohort.tables, root / "raw")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("NOVAMIND_"):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(root)
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            for args in (
                ["data", "ingest", str(root / "raw")],
                ["pipeline", "run", "symptom-forecasting", "-p", "epochs=1", "-p", "trials=2"],
                ["pipeline", "run", "biometric-correlation", "-p", "max_train_windows=1500"],
                ["pipeline", "run", "pharmacogenomics", "-p", "epochs=2"],
            ):
                result = runner.invoke(app, args)
                assert result.exit_code == 0, result.output
            client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
            for model in MODELS:  # approved whatever their gates said: plumbing, not quality
                version = max(
                    int(v.version) for v in client.search_model_versions(f"name='{model}'")
                )
                sign_approval(pem, model, str(version))
                client.set_registered_model_alias(model, "champion", str(version))
            result = runner.invoke(
                app, ["data", "patients", "--having", "treatment_history", "--limit", "5"]
            )
            patients = result.output.split()
            with local_stack(root / "logs") as running:
                yield {"stack": running, "patients": patients, "root": root}
        finally:
            get_settings.cache_clear()


def _ask(stack, patient: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.get(
        f"{stack['stack'].twin.url}/v1/twin/{patient}/insights",
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    return response, time.perf_counter() - started


def test_a_full_answer_joins_the_three_families(stack):
    assert all(s.ready for s in stack["stack"].servers.values())
    response, _ = _ask(stack, stack["patients"][0])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["unavailable"] == [], answer["unavailable"]
    assert {s["model"] for s in answer["sources"].values()} == set(MODELS)
    assert answer["symptom_forecast"]["days"] == 7
    correlations = answer["biometric_correlations"]
    assert correlations["lookback_days"] == 30 and correlations["tests"] > 0
    assert len(correlations["forecast"]) == 21  # 7 days of PHQ-9, GAD-7 and mood
    ranked = answer["medication_predictions"]["recommendations"]
    assert ranked and ranked[0]["rank"] == 1
    kinds = {r["kind"] for r in answer["integrated_recommendations"]}
    assert "best_medication" in kinds or all(r["cpic_action"] == "avoid" for r in ranked)
    for rec in answer["integrated_recommendations"]:
        assert rec["text"] and isinstance(rec["evidence"], dict)
    again, _ = _ask(stack, stack["patients"][0])
    assert again.json()["cached"] is True


def test_with_one_server_stopped_the_answer_is_partial_marked_and_in_time(stack):
    stack["stack"].stop("correlations")
    response, seconds = _ask(stack, stack["patients"][1])
    assert response.status_code == 200
    answer = response.json()
    assert seconds < 3.5
    [missing] = answer["unavailable"]
    assert missing["part"] == "biometric_correlations" and missing["reason"] == "error"
    assert answer["symptom_forecast"] and answer["medication_predictions"]
    assert (
        "biometric_correlations" not in answer["sources"]
        and answer["biometric_correlations"] is None
    )
