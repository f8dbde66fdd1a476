"""MLflow tracking: one run per pipeline run, a nested run per pipeline step."""

from __future__ import annotations

import contextlib
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

from novamind_core.infrastructure.settings import get_settings

EXPERIMENT = "symptom-forecasting"


def configure(experiment: str = EXPERIMENT) -> str:
    """Point MLflow at the configured store; create the experiment; return its id."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    uri = get_settings().mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        mlflow.set_experiment(experiment)
        return existing.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts beside the SQLite file, wherever the process runs from
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return experiment_id


def start_pipeline_run(run_name: str, params: dict) -> str:
    """Open the parent run of a pipeline run; return its id."""
    import mlflow

    configure()
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.set_tag("code_version", code_version())
        mlflow.set_tag("novamind.kind", "pipeline")
    _reopen(run.info.run_id)
    return run.info.run_id


def _reopen(run_id: str) -> None:
    """Mark a run as running again (its steps run in other processes)."""
    from mlflow.tracking import MlflowClient

    MlflowClient().update_run(run_id, status="RUNNING")


def finish_pipeline_run(run_id: str, status: str = "FINISHED") -> None:
    from mlflow.tracking import MlflowClient

    configure()
    MlflowClient().set_terminated(run_id, status=status)


@contextlib.contextmanager
def step_run(parent_run_id: str, step: str) -> Iterator[object]:
    """A nested run for one pipeline step (standalone when there is no parent)."""
    import mlflow

    configure()
    with mlflow.start_run(run_name=step, parent_run_id=parent_run_id or None) as run:
        mlflow.set_tag("novamind.step", step)
        yield run


def log_metrics(metrics: dict[str, float], prefix: str = "") -> None:
    import mlflow

    clean = {
        f"{prefix}{k}": float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }
    if clean:
        mlflow.log_metrics(clean)


def code_version() -> str:
    """The git commit of the code, or 'unknown' outside a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return sha.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def fail_tagged_runs(run_tag: str) -> int:
    """Mark the pipeline run carrying ``run_tag`` (and its open steps) as FAILED."""
    import mlflow
    from mlflow.tracking import MlflowClient

    experiment_id = configure()
    client = MlflowClient()
    parents = mlflow.search_runs(
        [experiment_id], filter_string=f"params.run_tag = '{run_tag}'", output_format="list"
    )
    failed = 0
    for parent in parents:
        children = mlflow.search_runs(
            [experiment_id],
            output_format="list",
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
        for run in [parent, *children]:
            if run.info.status == "RUNNING":
                client.set_terminated(run.info.run_id, status="FAILED")
                failed += 1
    return failed
