"""Register any family's model in the MLflow registry, with gate results as tags and aliases.

A family hands over its MLflow pyfunc model, the files it needs, an input example, its
evaluation, its gate results and its own tags; what every registered version carries is
added here (dataset, code version, gates, headline metrics) and the version gets the
``challenger`` alias only when every gate passed. A version that cannot be tagged is
deleted again: nothing is half-registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from novamind_core.domain.model_registry import CHALLENGER
from novamind_core.infrastructure.registry.tracking import code_version, configure, nested_run


def register_model(
    model_name: str,
    python_model,
    artifacts: Mapping[str, str],
    input_example,
    output_example,
    evaluation: dict,
    gate_results: dict[str, bool],
    dataset: dict[str, str],
    parent_run_id: str,
    tags: Mapping[str, str] | None = None,
    summary: Mapping[str, float] | None = None,
    artifact_dirs: Mapping[str, Path | None] | None = None,
    trained_by: str = "",
    reference_dir: Path | None = None,
    log_extra=None,
) -> dict:
    """Log the pyfunc model in a ``register`` run under the pipeline's run, register a
    version, tag it; alias ``challenger`` if every gate passed. ``artifact_dirs`` are
    logged beside the model (name in the run -> folder); ``summary`` is the headline
    metrics tag; ``log_extra()``, called inside the run, logs more (e.g. a model of
    another MLflow flavour) and returns tags for the version. Returns the model name,
    version, URI, gates and whether it is the challenger."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    signature = infer_signature(input_example, output_example)
    with nested_run(parent_run_id, "register", experiment=model_name):
        mlflow.log_dict(evaluation, "evaluation.json")
        for name, directory in (artifact_dirs or {}).items():
            if directory is not None and directory.exists():
                mlflow.log_artifacts(str(directory), name)
        extra_tags = log_extra() if log_extra is not None else {}
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            artifacts=dict(artifacts),
            signature=signature,
            input_example=input_example,
            registered_model_name=model_name,
        )
        version = str(info.registered_model_version)
        if reference_dir is not None and reference_dir.exists():
            _log_reference(reference_dir, model_name, version)
    client = MlflowClient()
    passed = all(gate_results.values())
    all_tags = {
        "dataset_version": dataset.get("version", ""),
        "dataset_fingerprint": dataset.get("fingerprint", ""),
        "code_version": code_version(),
        "trained_by": trained_by,  # who launched the run: not the one to approve it
        **(tags or {}),
        **extra_tags,
        "gates_passed": str(passed).lower(),
        "metrics": json.dumps(dict(summary or {})),
        **{f"gate.{k}": str(v).lower() for k, v in gate_results.items()},
    }
    try:
        for key, value in all_tags.items():
            client.set_model_version_tag(model_name, version, key, value)
        if passed:
            client.set_registered_model_alias(model_name, CHALLENGER, version)
    except BaseException:
        client.delete_model_version(model_name, version)  # no half-registered version
        raise
    return {
        "model_name": model_name,
        "version": version,
        "challenger": passed,
        "model_uri": f"models:/{model_name}/{version}",
        "gates": dict(gate_results),
    }


def _log_reference(reference_dir: Path, model_name: str, version: str) -> None:
    """The drift reference, re-encrypted for this version, as an artifact of the run."""
    import tempfile

    import mlflow

    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.monitoring.drift_reference import (
        ARTIFACT_DIR,
        bind_reference,
    )

    key = composition.settings().require_encryption_key()
    with tempfile.TemporaryDirectory() as tmp:
        bound = bind_reference(reference_dir, key, model_name, version, Path(tmp))
        mlflow.log_artifact(str(bound), ARTIFACT_DIR)


def load_alias(model_name: str, alias: str):
    """The Python model behind ``models:/<name>@<alias>``, or None when the alias is unset."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    configure()
    try:
        version = MlflowClient().get_model_version_by_alias(model_name, alias).version
    except MlflowException:
        return None
    # load exactly the version just read: the alias may move between two look-ups
    return mlflow.pyfunc.load_model(f"models:/{model_name}/{version}").unwrap_python_model()
