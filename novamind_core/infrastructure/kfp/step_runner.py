"""One way to run a pipeline step inside a KFP component.

``run_step`` opens the step's nested MLflow run under the pipeline's run, calls the
step, logs its figures to MLflow and to the component's KFP ``Metrics`` output, and
announces the step's headline figures on one marker line of its output, which the local
run (``novamind pipeline run``) turns into its progress report. ``start_pipeline`` is the
first step of every training pipeline (check the stored dataset, open the pipeline's
MLflow run); ``finish_pipeline`` the last (register, close the run).

KFP artifacts passed as arguments reach the step as ``Path`` objects.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MARKER = "::novamind-step::"


def announce(step: str, seconds: float, headline: dict, summary: dict | None = None) -> None:
    """One marker line with the step's headline figures (and lines for the run summary)."""
    record = {"step": step, "seconds": round(seconds, 2), "headline": headline}
    if summary:
        record["summary"] = summary
    print(f"{MARKER} {json.dumps(record, default=str)}", flush=True)
    sys.stdout.flush()


def _as_path(value: Any) -> Any:
    """A KFP artifact as the path of its file or folder; anything else unchanged."""
    path = getattr(value, "path", None)
    return Path(path) if isinstance(path, str) and hasattr(value, "uri") else value


def _numbers(figures: dict) -> dict[str, float]:
    """The finite numbers among a step's figures (booleans as 0/1)."""
    return {
        k: float(v)
        for k, v in figures.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    }


def run_step(
    step: str,
    parent_run_id: str,
    metrics,
    function: Callable[..., dict],
    /,
    *,
    headline: Sequence[str] = (),
    log_files: Sequence[tuple[str, str]] = (),
    **arguments: Any,
) -> dict:
    """Run ``function(**arguments)`` as pipeline step ``step``; return its figures.

    ``metrics`` is the component's ``Output[Metrics]`` (or None); ``headline`` names the
    figures the progress report shows; ``log_files`` names files to keep as MLflow
    artifacts of the step's run, each as (argument naming a folder, file in it)."""
    from novamind_core.infrastructure.registry import tracking

    started = time.perf_counter()
    arguments = {name: _as_path(value) for name, value in arguments.items()}
    with tracking.step_run(parent_run_id, step):
        figures = function(**arguments)
        numbers = _numbers(figures)
        tracking.log_metrics(numbers)
        for argument, name in log_files:
            tracking.log_artifact(arguments[argument] / name)
    if metrics is not None:
        for name, value in numbers.items():
            metrics.log_metric(name, value)
    announce(step, time.perf_counter() - started, {k: figures[k] for k in headline if k in figures})
    return figures


def start_pipeline(
    pipeline: str,
    run_params: dict,
    run_tag: str,
    dataset_version: str,
    tables: Sequence[str],
    report,
    metrics,
) -> tuple[str, str, str]:
    """The first step: check the stored tables the pipeline reads against their contracts,
    open the pipeline's MLflow run; return (dataset version, fingerprint, run id)."""
    from novamind_core.infrastructure.registry import tracking
    from novamind_core.infrastructure.validation.stored_dataset import validate_stored

    started = time.perf_counter()
    checked = validate_stored(dataset_version, tables, Path(report.path), purpose=pipeline)
    parent = tracking.start_pipeline_run(
        pipeline, {**run_params, "dataset_version": checked["version"], "run_tag": run_tag}
    )
    with tracking.step_run(parent, "validate"):
        tracking.log_metrics({"expectations": checked["expectations"]})
    if metrics is not None:
        metrics.log_metric("expectations_evaluated", checked["expectations"])
    announce(
        "validate",
        time.perf_counter() - started,
        {"expectations": checked["expectations"], "rows": sum(checked["rows"].values())},
        {"dataset": checked["version"], "MLflow run": parent},
    )
    return checked["version"], checked["fingerprint"], parent


def finish_pipeline(parent_run_id: str, register: Callable[..., dict], /, **arguments: Any) -> str:
    """The last step: ``register(**arguments)`` (a registration result of
    ``registry.model_registry.register_model``), then close the pipeline's MLflow run;
    return the result as JSON."""
    from novamind_core.infrastructure.registry import tracking

    started = time.perf_counter()
    result = register(**{name: _as_path(value) for name, value in arguments.items()})
    tracking.finish_pipeline_run(parent_run_id)
    failed = [gate for gate, passed in result["gates"].items() if not passed]
    announce(
        "register",
        time.perf_counter() - started,
        {"version": result["version"]},
        {
            "registered": f"{result['model_name']} version {result['version']}",
            "gates": "passed" if not failed else "failed: " + ", ".join(failed),
            "alias": "challenger" if result["challenger"] else "none (a gate failed)",
        },
    )
    return json.dumps(result)
