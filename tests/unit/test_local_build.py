"""A pipeline built for the local runner carries no retries; one built to compile does."""

from __future__ import annotations

from kfp import compiler

from novamind_core.families import pipeline
from novamind_core.infrastructure.kfp.cluster import LOCAL_SETTING, local_build


def _compiled(tmp_path, name: str) -> str:
    out = tmp_path / name
    compiler.Compiler().compile(pipeline("biometric-correlation").load(fresh=True), str(out))
    return out.read_text()


def test_local_builds_have_no_retries_and_compiled_ones_keep_them(tmp_path, monkeypatch):
    monkeypatch.delenv(LOCAL_SETTING, raising=False)
    with local_build():
        local = _compiled(tmp_path, "local.yaml")
    compiled = _compiled(tmp_path, "cluster.yaml")
    assert "retryPolicy" not in local
    # validate, align, correlate, train_bilstm, train_tft, train_hfbn, train_aligner,
    # evaluate_predictors, register
    assert compiled.count("maxRetryCount: 2") == 9
    assert "kubernetes" in local  # the rest of the wiring is the same


def test_the_pharmacogenomics_pipeline_trains_its_models_side_by_side(tmp_path, monkeypatch):
    import yaml

    monkeypatch.delenv(LOCAL_SETTING, raising=False)
    out = tmp_path / "pgx.yaml"
    compiler.Compiler().compile(pipeline("pharmacogenomics").load(fresh=True), str(out))
    spec, platform = yaml.safe_load_all(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {
        "validate",
        "build-graphs",
        "split",
        "train-gnn",
        "train-baselines",
        "evaluate",
        "register",
    }
    # the two training steps wait for the split, not for each other
    for name in ("train-gnn", "train-baselines"):
        assert set(tasks[name]["dependentTasks"]) == {"validate", "build-graphs", "split"}
    assert {"train-gnn", "train-baselines"} <= set(tasks["evaluate"]["dependentTasks"])
    assert all(t["retryPolicy"]["maxRetryCount"] == 2 for t in tasks.values())
    executors = spec["deploymentSpec"]["executors"]
    training = executors["exec-train-gnn"]["container"]["resources"]
    assert training["resourceCpuRequest"] == "2" and training["resourceMemoryLimit"] == "12Gi"
    assert "platforms" in platform  # the kfp-kubernetes wiring (config map, secret)
