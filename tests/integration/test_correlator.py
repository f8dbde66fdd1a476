"""The biometric-correlation family end to end: the pipeline on the KFP local runner
against a real MLflow store, then ``biometric-correlator`` on a real `novamind serve`
(127.0.0.1), by pseudonym and by history, V1 and V2, with bad input refused."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.raw_tables import write_tables
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate
from tests.integration.test_serving import AUDIT_KEY, JWT_SECRET, KEY, Server, expect
from tests.support.approvals import approval_keys, sign_approval

MODEL = "biometric-correlator"
PREDICT = f"/v1/models/{MODEL}:predict"
INFER = f"/v2/models/{MODEL}/infer"
PSEUDONYM = re.compile(r"p_[0-9a-f]{24}")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Ingest a 60-patient cohort, run the pipeline, approve its version."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("correlator")
    public, pem = approval_keys(root / "reviewer")
    env = {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_DATA_DIR": str(root / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(AUDIT_KEY).decode(),
        "NOVAMIND_JWT_SECRET": JWT_SECRET,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(root / 'mlflow.db').as_posix()}",
    }
    cohort = generate(CohortConfig(patients=60, days=150, seed=5))
    write_tables(cohort.tables, root / "raw")
    (root / "truth.json").write_text(json.dumps(cohort.ground_truth))
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
            result = runner.invoke(app, ["data", "ingest", str(root / "raw")])
            assert result.exit_code == 0, result.output
            refused = runner.invoke(
                app, ["pipeline", "run", "biometric-correlation", "-p", "max_lag=40"]
            )
            truth = f"expected_relations=@{root / 'truth.json'}"
            small = "max_train_windows=3000"  # of about 6,000: a faster run, same gates
            result = runner.invoke(
                app, ["pipeline", "run", "biometric-correlation", "-p", truth, "-p", small]
            )
            assert result.exit_code == 0, result.output
            client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
            version = client.get_model_version_by_alias(MODEL, "challenger")
            sign_approval(pem, MODEL, version.version)
            client.set_registered_model_alias(MODEL, "champion", version.version)
            from novamind_core.infrastructure import composition

            store = composition.dataset_store()
            keys = store.read(store.latest().version, "patients")["patient_key"].tolist()
            server_env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
            server_env |= env | {"PYTHONUNBUFFERED": "1"}
            yield {
                "root": root,
                "env": server_env,
                "version": version,
                "keys": keys,
                "refused": refused,
                "client": client,
                "raw": cohort.tables["patients"],
            }
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def server(run):
    srv = Server(run["env"], run["root"], name="correlator")
    srv.options += ["--model", MODEL]
    try:
        yield srv.start()
    finally:
        srv.stop()


def test_pipeline_registers_a_challenger_whose_gates_passed(run):
    version = run["version"]
    tags = version.tags
    assert tags["gates_passed"] == "true"
    for gate in ("enough_patients", "null_calibrated", "expected_recovered", "no_effect_quiet"):
        assert tags[f"gate.{gate}"] == "true", gate
    metrics = json.loads(tags["metrics"])
    assert metrics["patients"] == 60 and metrics["significant"] >= 5
    assert metrics["null_rejection_rate"] <= 0.075
    for gate in ("predictor_beats_baselines", "attention_valid"):
        assert tags[f"gate.{gate}"] == "true", gate
    assert tags["predictor"] in ("bilstm", "tft")
    assert metrics["predictor_mase"] < metrics["last_value_mase"]
    assert tags["hfbn_model_uri"].startswith(("runs:/", "models:/", "m-"))
    names = {a.path for a in run["client"].list_artifacts(version.run_id, "charts")}
    assert names == {"charts/lag_heatmap.png", "charts/causal_graph.png"}
    models = {a.path for a in run["client"].list_artifacts(version.run_id, "models")}
    assert models == {"models/bilstm", "models/tft", "models/aligner"}
    tables = {a.path for a in run["client"].list_artifacts(version.run_id, "analysis")}
    assert "analysis/tests.csv" in tables
    # nothing in the run names a patient: only cohort-level figures were logged
    run_data = run["client"].get_run(version.run_id).data
    logged = [json.dumps([run_data.params, run_data.tags, tags])]
    folder = run["root"] / "artifacts"
    for name in (
        "analysis/tests.csv",
        "analysis/evaluation.json",
        "evaluation.json",
        "predictors/predictors.json",
    ):
        logged.append(
            Path(run["client"].download_artifacts(version.run_id, name, str(folder))).read_text()
        )
    for text in logged:
        assert not PSEUDONYM.search(text)
        assert not any(raw_id in text for raw_id in run["raw"]["patient_id"])


def test_bad_settings_stop_the_run_before_any_step_and_register_nothing(run):
    assert run["refused"].exit_code != 0
    assert "max-lag must lie in 0..28" in run["refused"].output
    versions = run["client"].search_model_versions(f"name='{MODEL}'")
    assert len(versions) == 1


def _local_result(run, key):
    """The same patient's analysis computed here, from the store, by the library."""
    from novamind_core.families.biometric.analysis import correlate
    from novamind_core.families.biometric.cohort_data import stored_grid
    from novamind_core.families.biometric.engine import EngineSettings
    from novamind_core.infrastructure import composition

    class NoAudit:
        def record(self, *args, **kwargs):
            pass

    with pytest.MonkeyPatch.context() as mp:
        for name, value in run["env"].items():
            if name.startswith("NOVAMIND_"):
                mp.setenv(name, value)
        get_settings.cache_clear()
        try:
            _, aligned = stored_grid(composition.dataset_store(), "latest", NoAudit(), "test")
        finally:
            get_settings.cache_clear()
    return correlate(aligned, EngineSettings(), patient=key)


def test_v1_by_pseudonym_is_the_patients_analysis(run, server):
    key = run["keys"][2]
    body = expect(
        server.request("POST", PREDICT, json={"instances": [{"patient_key": key}]}), 200, server
    )
    (answer,) = body["predictions"]
    local = _local_result(run, key)
    assert answer["patient_key"] == key and answer["model_version"] == str(run["version"].version)
    assert answer["tests"] == len(local.tests)
    assert len(answer["forecast"]) == 21 and len(answer["temporal_patterns"]) == 21
    want = local.significant()
    assert [r["coefficient"] for r in answer["correlation_strength"]] == pytest.approx(
        want["coefficient"].tolist(), abs=1e-6
    )
    for relation in answer["correlation_strength"]:
        assert relation["q_value"] <= 0.05
        assert relation["ci_low"] <= relation["coefficient"] <= relation["ci_high"]
    strengths = [abs(r["coefficient"]) for r in answer["correlation_strength"]]
    assert strengths == sorted(strengths, reverse=True)


def _history(days: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    sleep = rng.normal(7, 1, days)
    rows = []
    for d in range(days):
        rows.append(
            {
                "day": f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}",
                "heart_rate_bpm": round(float(rng.normal(68, 4)), 1),
                "hrv_rmssd_ms": round(float(rng.normal(40, 5)), 1),
                "sleep_hours": round(float(sleep[d]), 2),
                "steps": round(float(rng.normal(7000, 900))),
                "mood": round(
                    float(
                        np.clip(
                            5 + 1.2 * (sleep[d - 1] - 7 if d else 0) + rng.normal(0, 0.5), 0, 10
                        )
                    ),
                    1,
                ),
                "phq9": None,
                "gad7": None,
            }
        )
    return rows


def test_v1_with_a_history_finds_its_planted_lead(server):
    instance = {"patient_key": "p_" + "1" * 24, "history": _history(112)}
    body = expect(server.request("POST", PREDICT, json={"instances": [instance]}), 200, server)
    (answer,) = body["predictions"]
    top = answer["correlation_strength"][0]
    assert (top["biometric"], top["symptom"], top["lag_days"]) == ("sleep_hours", "mood", 1)
    assert top["coefficient"] > 0.5
    assert any(
        e["biometric"] == "sleep_hours" and e["lag_days"] == 1 for e in answer["causal_graph"]
    )
    assert answer["tests"] == 4 * 1 * 8  # mood only: phq9 and gad7 were never reported


def test_the_answer_forecasts_each_symptom_with_its_interval_and_what_drove_it(server):
    instance = {"patient_key": "p_" + "1" * 24, "history": _history(60, seed=2)}
    body = expect(server.request("POST", PREDICT, json={"instances": [instance]}), 200, server)
    (answer,) = body["predictions"]
    forecast = answer["forecast"]
    assert {(f["symptom"], f["horizon_days"]) for f in forecast} == {
        (s, h) for s in ("phq9", "gad7", "mood") for h in range(1, 8)
    }
    last_day = np.datetime64(instance["history"][-1]["day"])
    for row in forecast:
        assert np.isfinite([row["lower"], row["median"], row["upper"]]).all()
        assert row["lower"] <= row["median"] <= row["upper"]
        assert np.datetime64(row["target_day"]) == last_day + row["horizon_days"]
    for pattern in answer["temporal_patterns"]:
        weights = [d["weight"] for d in pattern["days"]]
        assert weights == sorted(weights, reverse=True) and 0 < sum(weights) <= 1 + 1e-6
        for day in pattern["days"]:
            assert day["days_before_target"] >= pattern["horizon_days"]
            assert np.datetime64(day["day"]) <= last_day
        assert len(pattern["signals"]) == 3
        assert 0 < sum(s["weight"] for s in pattern["signals"]) <= 1 + 1e-6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[:1], "1 day(s) with a record"),
        (lambda rows: rows[:5], "a prediction needs at least 7"),
        (
            lambda rows: [
                {k: v for k, v in r.items() if k in ("day", "mood", "phq9", "gad7")} for r in rows
            ],
            "every wearable signal is missing",
        ),
    ],
)
def test_a_history_the_predictor_cannot_use_is_refused_by_name(server, change, message):
    instance = {"patient_key": "p_" + "2" * 24, "history": change(_history(40))}
    response = server.request("POST", PREDICT, json={"instances": [instance]})
    assert response.status_code == 400, response.text
    assert message in response.text


def test_v1_and_v2_give_the_same_numbers(server):
    history = _history(112, seed=3)
    answer = expect(
        server.request(
            "POST",
            PREDICT,
            json={"instances": [{"patient_key": "p_" + "4" * 24, "history": history}]},
        ),
        200,
        server,
    )["predictions"][0]
    v1 = answer["correlation_strength"]
    columns = {name: [row.get(name) for row in history] for name in history[0]}
    inputs = [
        {
            "name": "patient_key",
            "datatype": "BYTES",
            "shape": [len(history)],
            "data": ["p_" + "4" * 24] * len(history),
        },
        {"name": "day", "datatype": "BYTES", "shape": [len(history)], "data": columns.pop("day")},
    ]
    for name in ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps", "mood"):
        inputs.append(
            {"name": name, "datatype": "FP64", "shape": [len(history)], "data": columns[name]}
        )
    out = expect(server.request("POST", INFER, json={"inputs": inputs}), 200, server)
    tensors = {o["name"]: o["data"] for o in out["outputs"]}
    significant = [i for i, s in enumerate(tensors["significant"]) if s]
    assert len(significant) == len(v1) > 0
    by_test = {
        (tensors["biometric"][i], tensors["symptom"][i], tensors["lag_days"][i]): i
        for i in significant
    }
    for relation in v1:
        i = by_test[(relation["biometric"], relation["symptom"], relation["lag_days"])]
        assert relation["coefficient"] == pytest.approx(tensors["coefficient"][i], abs=1e-6)
        assert relation["q_value"] == pytest.approx(tensors["q_value"][i], rel=1e-5)
        assert relation["q_value"] > 0  # small q-values are not rounded to 0
    forecasts = {
        (tensors["forecast_symptom"][i], tensors["forecast_horizon_days"][i]): i
        for i in range(len(tensors["forecast_symptom"]))
    }
    assert len(forecasts) == len(answer["forecast"]) == 21
    for row in answer["forecast"]:
        i = forecasts[(row["symptom"], row["horizon_days"])]
        for name in ("median", "lower", "upper"):
            assert row[name] == pytest.approx(tensors[f"forecast_{name}"][i], abs=1e-6)
    patterns = len(tensors["pattern_weight"])
    assert patterns == sum(len(p["days"]) for p in answer["temporal_patterns"])


def test_v2_answers_every_test_as_tensors(run, server):
    key = run["keys"][0]
    body = {"inputs": [{"name": "patient_key", "datatype": "BYTES", "shape": [1], "data": [key]}]}
    out = expect(server.request("POST", INFER, json=body), 200, server)
    tensors = {o["name"]: o for o in out["outputs"]}
    n = tensors["patient_key"]["shape"][0]
    assert n == len(_local_result(run, key).tests) > 0
    for name in ("coefficient", "ci_low", "ci_high", "p_value", "q_value", "significant"):
        assert tensors[name]["shape"] == [n]
    assert all(v is not None for v in tensors["q_value"]["data"])
    assert tensors["edge_patient_key"]["shape"] == tensors["edge_strength"]["shape"]


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({"patient_key": "MRN-000123"}, "pseudonym"),
        (
            {"patient_key": "p_" + "3" * 24, "history": [{"day": "2025-01-01", "pulse": 60}]},
            "fields this model does not take",
        ),
        (
            {
                "patient_key": "p_" + "3" * 24,
                "history": [{"day": "2025-01-01", "sleep_hours": 420}],
            },
            "must lie in [0, 24]",
        ),
        (
            {
                "patient_key": "p_" + "3" * 24,
                "history": [{"day": "2020-01-01", "mood": 5}, {"day": "2025-01-01", "mood": 5}],
            },
            "spans",
        ),
        ({"patient_key": "p_" + "f" * 24}, "no stored history"),
        ({"patient_key": "p_" + "3" * 24, "lookback_days": 10}, "between 28 and 365"),
        ({"patient_key": "p_" + "3" * 24, "lookback_days": "30"}, "whole number of days"),
        ({"patient_key": "p_" + "3" * 24, "lookback_days": True}, "whole number of days"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(server, instance, message):
    response = server.request("POST", PREDICT, json={"instances": [instance]})
    assert response.status_code == 400, response.text
    assert message in response.text
    assert "MRN-000123" not in response.text


def test_a_stored_patient_is_analysed_over_the_lookback_asked_for(run, server):
    key = run["keys"][3]
    whole = expect(
        server.request("POST", PREDICT, json={"instances": [{"patient_key": key}]}), 200, server
    )["predictions"][0]
    month = expect(
        server.request(
            "POST", PREDICT, json={"instances": [{"patient_key": key, "lookback_days": 30}]}
        ),
        200,
        server,
    )["predictions"][0]
    pairs = {
        (r["biometric"], r["symptom"], r["lag_days"]): r["n_pairs"]
        for r in whole["correlation_strength"]
    }
    for relation in month["correlation_strength"]:
        assert relation["n_pairs"] <= 30
    assert max(pairs.values(), default=31) > 30  # the whole history holds more days
    assert len(month["forecast"]) == len(whole["forecast"]) == 21  # same last 28 days


def test_v2_with_days_but_no_values_is_refused(server):
    body = {
        "inputs": [
            {
                "name": "patient_key",
                "datatype": "BYTES",
                "shape": [2],
                "data": ["p_" + "5" * 24] * 2,
            },
            {
                "name": "day",
                "datatype": "BYTES",
                "shape": [2],
                "data": ["2025-01-01", "2025-01-02"],
            },
        ]
    }
    response = server.request("POST", INFER, json=body)
    assert response.status_code == 400, response.text
    assert "no value tensor" in response.text


def test_every_answer_is_audited_with_its_pseudonym(run, server):
    key = run["keys"][5]
    expect(server.request("POST", PREDICT, json={"instances": [{"patient_key": key}]}), 200, server)
    server.stop()
    log = (run["root"] / "data" / "audit").glob("**/*.jsonl")
    entries = [json.loads(line) for path in log for line in path.read_text().splitlines()]
    predicted = [
        e
        for e in entries
        if e.get("action") == "predict" and e.get("resource", "").startswith(MODEL)
    ]
    assert any(key in json.dumps(e) for e in predicted)


FRESH_PROCESS = """
import sys
import mlflow
import numpy as np

model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict(model.input_example)
forecast = out[out["kind"] == "forecast"]
assert len(forecast) == 21, len(forecast)
assert np.isfinite(forecast[["median", "lower", "upper"]].to_numpy(float)).all()
assert (forecast["lower"] <= forecast["median"]).all()
hfbn = mlflow.pyfunc.load_model(sys.argv[2])
example = hfbn.input_example
prediction = np.asarray(hfbn.predict(example))
assert prediction.size and np.isfinite(prediction).all(), prediction
print("ok", sys.argv[1], prediction.shape)
"""


def test_the_registered_pytorch_and_tensorflow_models_predict_in_a_fresh_process(run):
    import subprocess
    import sys

    version = run["version"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_PROCESS,
            f"models:/{MODEL}/{version.version}",
            version.tags["hfbn_model_uri"],
        ],
        env=run["env"],
        cwd=run["root"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok models:/" in result.stdout
