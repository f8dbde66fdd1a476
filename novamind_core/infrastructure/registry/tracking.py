"""MLflow tracking: one run per pipeline run, a nested run per pipeline step."""

from __future__ import annotations

import contextlib
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

from novamind_core.infrastructure.settings import get_settings


def configure(experiment: str | None = None) -> str | None:
    """Point MLflow at the configured store; with ``experiment``, make it the active one
    (created with its artifacts beside a SQLite store) and return its id."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    uri = get_settings().mlflow_tracking_uri
    _check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    if experiment is None:
        return None
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


_REACHED: set[str] = set()


def _check_reachable(uri: str) -> None:
    """A tracking server that does not answer is a one-line error naming it, at once —
    not minutes of MLflow's own retries. Checked once per process."""
    if not uri.startswith(("http://", "https://")) or uri in _REACHED:
        return
    import httpx

    from novamind_core.domain.errors import ServiceUnavailableError

    try:
        httpx.get(f"{uri.rstrip('/')}/health", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError(
            f"the MLflow tracking server at {uri} (MLFLOW_TRACKING_URI) does not answer: "
            f"{type(exc).__name__}"
        ) from None
    _REACHED.add(uri)


def start_pipeline_run(pipeline: str, params: dict) -> str:
    """Open the parent run of a pipeline run, in the experiment named after the pipeline;
    return its id."""
    import mlflow

    experiment_id = configure(pipeline)
    with mlflow.start_run(run_name=pipeline, experiment_id=experiment_id) as run:
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
def nested_run(parent_run_id: str, name: str, experiment: str) -> Iterator[object]:
    """A run named ``name`` under the pipeline run ``parent_run_id`` (in its experiment);
    without a parent, a standalone run in ``experiment``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    configure()
    if parent_run_id:
        experiment_id = MlflowClient().get_run(parent_run_id).info.experiment_id
    else:
        experiment_id = configure(experiment)
    with mlflow.start_run(
        run_name=name, parent_run_id=parent_run_id or None, experiment_id=experiment_id
    ) as run:
        yield run


@contextlib.contextmanager
def step_run(parent_run_id: str, step: str) -> Iterator[object]:
    """A nested run for one pipeline step (standalone when there is no parent)."""
    import mlflow

    with nested_run(parent_run_id, step, "pipeline-steps") as run:
        mlflow.set_tag("novamind.step", step)
        yield run


def active_run_id() -> str:
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run is not None else "no-run"


def log_artifact(path: Path) -> None:
    """Keep a file as an artifact of the active run (skipped when it does not exist)."""
    import mlflow

    if Path(path).exists():
        mlflow.log_artifact(str(path))


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

    configure()
    client = MlflowClient()
    parents = mlflow.search_runs(
        filter_string=f"params.run_tag = '{run_tag}'",
        search_all_experiments=True,
        output_format="list",
    )
    failed = 0
    for parent in parents:
        children = mlflow.search_runs(
            [parent.info.experiment_id],
            output_format="list",
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
        for run in [parent, *children]:
            if run.info.status == "RUNNING":
                client.set_terminated(run.info.run_id, status="FAILED")
                failed += 1
    return failed
