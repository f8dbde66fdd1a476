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
    assert compiled.count("maxRetryCount: 2") == 4  # validate, align, correlate, register
    assert "kubernetes" in local  # the rest of the wiring is the same
