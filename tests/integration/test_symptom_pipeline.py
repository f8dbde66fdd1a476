"""The symptom-forecasting pipeline on the KFP local runner, against a real MLflow store."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.raw_tables import write_tables
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

FAST = ["-p", "epochs=2", "-p", "trials=3"]


@pytest.fixture
def mlflow_env(env, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    return uri


def ingest_cohort(tmp_path, mutate=None) -> None:
    cohort = generate(CohortConfig(patients=40, days=150, seed=5))
    if mutate:
        mutate(cohort.tables)
    write_tables(cohort.tables, tmp_path / "raw")
    result = CliRunner().invoke(app, ["data", "ingest", str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output


def mlflow_client(uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    return MlflowClient()


STEPS = (
    "validate",
    "impute",
    "split",
    "train-transformer",
    "tune-xgboost",
    "fit-ensemble",
    "evaluate",
    "build-reference",
    "register",
)


def test_pipeline_trains_evaluates_and_registers(mlflow_env, tmp_path):
    ingest_cohort(tmp_path)
    result = CliRunner().invoke(app, ["pipeline", "run", "symptom-forecasting", *FAST])
    assert result.exit_code == 0, result.output

    # a progress report: a start and an end line per step, with its figures, then a summary
    lines = result.output.splitlines()
    for step in STEPS:
        assert sum(line.strip() == f"▶ {step}" for line in lines) == 1, result.output
        (ended,) = [line for line in lines if line.strip().startswith(f"✓ {step} ")]
        assert " s " in ended
    assert "expectations" in result.output and "windows_train" in result.output
    assert "registered: symptom-forecaster version 1" in result.output
    assert "MLflow run: " in result.output and "gates: " in result.output
    assert "executor_input" not in result.output and len(lines) < 40
    log = Path(next(line for line in lines if line.strip().startswith("log:")).split(": ", 1)[1])
    assert "executor_input" in log.read_text()  # the whole runner output is kept
    assert {p.stem for p in log.parent.glob("*.log")} == {"pipeline", *STEPS}

    # no clear-text patient data among the run's intermediates: no readable Parquet, no
    # pseudonym in any file, every file readable by its owner only
    from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore

    store = EncryptedDatasetStore(get_settings().store_dir, get_settings().require_encryption_key())
    pseudonyms = store.read("v0001", "patients")["patient_key"].tolist()
    scratch = [p for p in (tmp_path / "data" / "kfp").rglob("*") if p.is_file()]
    assert any(p.name == "grid.parquet.enc" for p in scratch)
    for path in scratch:
        blob = path.read_bytes()
        assert not blob.startswith(b"PAR1"), path
        assert not any(k.encode() in blob or k[2:].encode() in blob for k in pseudonyms), path
        if path.suffix == ".enc" or path.name in {"plan", "grid"}:
            assert path.stat().st_mode & 0o077 == 0, path

    client = mlflow_client(mlflow_env)
    (version,) = client.search_model_versions("name='symptom-forecaster'")
    tags = version.tags
    assert tags["dataset_version"] == "v0001" and len(tags["dataset_fingerprint"]) == 64
    assert tags["gate.data_validation_passed"] == "true"
    assert tags["trained_by"] == getpass.getuser()  # who launched it may not approve it
    gates = [tags[k] for k in tags if k.startswith("gate.")]
    aliases = client.get_registered_model("symptom-forecaster").aliases
    assert ("challenger" in aliases) == all(g == "true" for g in gates)
    metrics = json.loads(tags["metrics"])
    assert {"test.ensemble.mase", "test.seasonal_naive.mase", "heldout.ensemble.mase"} <= set(
        metrics
    )

    # one parent run, a nested run per step, artifacts in place
    parent = client.get_run(client.get_model_version("symptom-forecaster", "1").run_id)
    parent_id = parent.data.tags["mlflow.parentRunId"]
    steps = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert {r.data.tags["mlflow.runName"] for r in steps} >= {
        "validate",
        "impute",
        "split",
        "train_transformer",
        "tune_xgboost",
        "fit_ensemble",
        "evaluate",
        "build_reference",
        "register",
    }
    assert client.get_run(parent_id).info.status == "FINISHED"

    # the drift reference travels with the version: encrypted, no pseudonym, no date
    from novamind_core.families.forecasting.drift import MONITORED_FEATURES
    from novamind_core.infrastructure.monitoring.drift_reference import MlflowDriftReferences

    blob = client.download_artifacts(parent.info.run_id, "drift_reference/reference.parquet.enc")
    assert not Path(blob).read_bytes().startswith(b"PAR1")  # not clear-text Parquet
    reference = MlflowDriftReferences(get_settings().require_encryption_key()).reference(
        "symptom-forecaster", "1"
    )
    assert list(reference.columns) == [*MONITORED_FEATURES, "prediction_h1"]
    assert len(reference) >= 200 and reference["prediction_h1"].between(0, 10).all()
    charts = [a.path for a in client.list_artifacts(parent.info.run_id, "fan_charts")]
    assert charts and all(p.endswith(".png") for p in charts)

    # loadable in a fresh process, answering with intervals around a median
    code = (
        "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]);"
        "m = mlflow.pyfunc.load_model('models:/symptom-forecaster/1');"
        "from novamind_core.families.forecasting.pyfunc import input_example;"
        "out = m.predict(input_example({'mood': 6.0}, 30)); print(out.to_json(orient='records'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, mlflow_env], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    assert rows["horizon"].tolist() == list(range(1, 8))
    assert ((rows["lower"] <= rows["median"]) & (rows["median"] <= rows["upper"])).all()
    assert rows["median"].between(0, 10).all()


def test_a_failing_step_fails_the_run_and_registers_nothing(mlflow_env, tmp_path):
    def drop_gad7(tables):
        tables["symptom_observations"]["gad7"] = float("nan")

    ingest_cohort(tmp_path, drop_gad7)
    result = CliRunner().invoke(
        app, ["pipeline", "run", "symptom-forecasting", "-p", "target=gad7", *FAST]
    )
    assert result.exit_code != 0
    assert "pipeline symptom-forecasting failed at step impute" in result.output
    assert "nothing was registered" in result.output
    # the failed step, its own log, and the end of its error
    assert "step impute failed; its log: " in result.output
    assert "instrument gad7 is missing for every patient" in result.output
    assert "Traceback" not in result.output.splitlines()[-1]
    client = mlflow_client(mlflow_env)
    assert client.search_registered_models() == []
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`novamind.kind` = 'pipeline'"
    )
    assert runs and all(r.info.status == "FAILED" for r in runs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "horizon=31"], "outside 1..30"),
        (["-p", "horizon=seven"], "must be a int"),
        (["-p", "dataset_version=v0099"], "no dataset version 'v0099'"),
        (["-p", "bogus=1"], "unknown parameter 'bogus'"),
    ],
)
def test_bad_parameters_are_rejected_before_any_step(mlflow_env, tmp_path, args, message):
    ingest_cohort(tmp_path)
    result = CliRunner().invoke(app, ["pipeline", "run", "symptom-forecasting", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_empty_store_is_a_clear_error(mlflow_env):
    result = CliRunner().invoke(app, ["pipeline", "run", "symptom-forecasting"])
    assert result.exit_code == 8
    assert "holds no dataset yet" in result.output


def compiled(name: str, tmp_path, *options: str) -> tuple[dict, dict]:
    """The pipeline's KFP IR and its Kubernetes platform spec (the second document)."""
    import yaml

    out = tmp_path / f"{name}.yaml"
    result = CliRunner().invoke(app, ["pipeline", "compile", name, "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    spec, platform = yaml.safe_load_all(out.read_text())
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def test_compile_writes_ir_yaml(tmp_path):
    spec, _ = compiled("symptom-forecasting", tmp_path)
    assert set(spec["root"]["dag"]["tasks"]) == set(STEPS)
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {"novamind/digital-twin:0.1.0"}


@pytest.mark.parametrize("name", ["symptom-forecasting", "drift-monitor", "deploy-champion"])
def test_every_compiled_step_carries_its_cluster_wiring(tmp_path, name):
    """What a pod needs, from the ConfigMap and the Secret (no value in the IR), its
    resources, retries with backoff, and no cache."""
    from novamind_core.infrastructure.kfp import cluster

    spec, platform = compiled(name, tmp_path)
    executors = spec["deploymentSpec"]["executors"]
    assert set(platform) == set(executors)
    for name_, executor in executors.items():
        wiring = platform[name_]
        (config,) = wiring["configMapAsEnv"]
        assert config["configMapName"] == cluster.CONFIG_MAP
        assert {e["configMapKey"]: e["envVar"] for e in config["keyToEnv"]} == cluster.CONFIG_ENV
        secrets = {
            (e["secretKey"], e["envVar"], s["optional"])
            for s in wiring["secretAsEnv"]
            for e in s["keyToEnv"]
        }
        assert {(k, v, False) for k, v in cluster.SECRET_ENV.items()} <= secrets
        resources = executor["container"]["resources"]
        assert {"resourceCpuRequest", "resourceCpuLimit", "resourceMemoryLimit"} <= set(resources)
        assert "accelerator" not in resources  # no GPU unless compiled with --gpu
        assert "env" not in executor["container"]  # nothing baked into the IR
    tasks = [t for t in _all_tasks(spec) if "componentRef" in t and "dag" not in t]
    for task in tasks:
        if "retryPolicy" in task:
            assert task["retryPolicy"]["maxRetryCount"] == 2
        assert not task.get("cachingOptions", {}).get("enableCache", False)


def _all_tasks(spec: dict) -> list[dict]:
    tasks = list(spec["root"]["dag"]["tasks"].values())
    for component in spec["components"].values():
        tasks += list(component.get("dag", {}).get("tasks", {}).values())
    return tasks


def test_gpu_is_asked_for_only_by_the_steps_that_can_use_it(tmp_path):
    spec, platform = compiled("symptom-forecasting", tmp_path, "--gpu")
    executors = spec["deploymentSpec"]["executors"]
    with_gpu = {n for n, e in executors.items() if "accelerator" in e["container"]["resources"]}
    assert with_gpu == {"exec-train-transformer"}
    assert platform["exec-train-transformer"]["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_the_drift_monitor_compiles_with_its_retraining_condition(tmp_path):
    spec, _ = compiled("drift-monitor", tmp_path)
    assert set(spec["root"]["dag"]["tasks"]) == {"check-drift", "condition-1"}
    text = (tmp_path / "drift-monitor.yaml").read_text()
    assert "== 'drift'" in text and "trigger-retraining" in text
    assert set(spec["root"]["inputDefinitions"]["parameters"]) >= {
        "model",
        "since",
        "retrain",
        "retrain_mode",
        "training_params",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "retrain_mode=sideways"], "retrain_mode must be local or cluster"),
        (["-p", "training_params=[1, 2]"], "training_params must be a JSON object"),
        (["-p", "since=yesterday-ish"], "not a date"),
    ],
)
def test_bad_drift_monitor_parameters_are_rejected(mlflow_env, args, message):
    result = CliRunner().invoke(app, ["pipeline", "run", "drift-monitor", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_submit_to_an_unreachable_host_is_a_clear_error():
    result = CliRunner().invoke(
        app, ["pipeline", "submit", "symptom-forecasting", "--host", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 5
    assert "could not submit to KFP at http://127.0.0.1:9" in result.output
