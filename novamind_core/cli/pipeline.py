"""``novamind pipeline``: run pipelines locally, compile them, submit them to a cluster.

Every pipeline — each family's and the platform's — comes from the registry in
``novamind_core.families``, with its own parameter checks.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer

from novamind_core.cli.common import console, err_console, handles_errors
from novamind_core.domain.errors import ServiceUnavailableError

app = typer.Typer(help="Run, compile and submit the pipelines.", no_args_is_help=True)
PARAM = typer.Option([], "--param", "-p", help="key=value, repeatable.")


def _who() -> str:
    """Who launches a run: NOVAMIND_ACTOR, else the user running the command."""
    import getpass
    import os

    return os.environ.get("NOVAMIND_ACTOR") or getpass.getuser()


def _checked(name: str, pairs: list[str]):
    """The pipeline's registry entry and its parameters, checked before any step runs."""
    from novamind_core.families import pipeline
    from novamind_core.infrastructure import composition

    entry = pipeline(name)
    return entry, entry.checked(entry.parse(pairs), composition.settings())


@app.command("list")
@handles_errors
def list_pipelines() -> None:
    """Every pipeline, by family."""
    from rich.table import Table

    from novamind_core.families import FAMILIES, PLATFORM_PIPELINES

    table = Table("pipeline", "family", "what it does")
    for family in FAMILIES:
        for entry in family.pipelines:
            table.add_row(entry.name, family.name, entry.description)
    for entry in PLATFORM_PIPELINES:
        table.add_row(entry.name, "(every family)", entry.description)
    console.print(table)


def _figure(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _progress(out):
    """One line per step as it starts and as it ends, on ``out`` (the terminal: while the
    pipeline runs, ``sys.stdout`` carries the runner's output into the log files)."""
    from rich.console import Console

    from novamind_core.cli.common import LOG_WIDTH

    screen = Console(file=out, width=None if out.isatty() else LOG_WIDTH, highlight=False)

    def show(event) -> None:
        if event.kind == "started":
            screen.print(f"  [dim]▶ {event.step}[/]")
        else:
            ok = event.status == "SUCCESS"
            mark = "[green]✓[/]" if ok else "[red]✗[/]"
            figures = ", ".join(f"{k} {_figure(v)}" for k, v in event.headline.items())
            tail = figures if ok else f"[red]{event.status}[/]"
            screen.print(f"  {mark} {event.step:<20} {event.seconds:6.1f} s  {tail}")

    return show


@app.command()
@handles_errors
def run(
    name: str = typer.Argument(..., help="Pipeline name (see `novamind pipeline list`)."),
    param: list[str] = PARAM,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Stream every step's whole output (KFP, executors)."
    ),
) -> None:
    """Run a pipeline on the KFP local runner (every step in this environment).

    Prints one line per step and a summary; the whole output of the run is kept in a log
    folder under the data directory (one file for the run, one per step)."""
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.kfp.local_run import run_local
    from novamind_core.infrastructure.registry import tracking

    entry, params = _checked(name, param)
    if "dataset_version" in entry.defaults():
        store = composition.dataset_store()
        version = store.manifest(params.get("dataset_version", "latest"))["version"]
        params["dataset_version"] = version
    else:
        version = "-"
    params["run_tag"] = uuid.uuid4().hex
    if "launched_by" in entry.defaults():
        params["launched_by"] = _who()
    settings = composition.settings()
    root = (settings.data_dir / "kfp").resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = (settings.data_dir / "logs" / "pipelines" / f"{stamp}-{name}").resolve()
    hidden = ("run_tag", "dataset_version", "launched_by")
    given = ", ".join(f"{k}={v}" for k, v in params.items() if k not in hidden)
    console.print(
        f"running [bold]{name}[/] on dataset {version}" + (f" ({given})" if given else "")
    )
    console.print(f"log: {log_dir / 'pipeline.log'}", highlight=False)
    started = time.perf_counter()
    from novamind_core.infrastructure.kfp.cluster import local_build

    with local_build():
        built = entry.load(fresh=True)
    try:
        report = run_local(
            built,
            params,
            root,
            log_dir,
            _progress(sys.stdout),
            echo=sys.stdout if verbose else None,
        )
    except Exception as exc:
        tracking.fail_tagged_runs(params["run_tag"])
        _explain_failure(getattr(exc, "report", None), exc)
        raise ServiceUnavailableError(
            f"pipeline {name} failed{_at_step(exc)}: nothing was registered "
            f"(the whole log: {log_dir / 'pipeline.log'})"
        ) from None
    console.print(
        f"[green]pipeline {name} finished[/] in {time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    for label, value in report.summary.items():
        console.print(f"  {label}: {value}", highlight=False)
    console.print(f"  outputs: {root}", highlight=False)
    console.print(f"  log: {report.log}", highlight=False)


def _at_step(exc: Exception) -> str:
    report = getattr(exc, "report", None)
    return f" at step {report.failed_step}" if report and report.failed_step else ""


def _explain_failure(report, exc: Exception) -> None:
    """The failed step, its log file and the last lines of its error."""
    if report is None or report.failed_step is None:
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        err_console.print(f"[red]{type(exc).__name__}[/]: {text}", highlight=False)
        return
    err_console.print(
        f"[red]step {report.failed_step} failed[/]; its log: "
        f"{report.log_dir / (report.failed_step + '.log')}",
        highlight=False,
    )
    for line in report.error_tail():
        err_console.print(f"    {line}", highlight=False, markup=False)


GPU = typer.Option(
    False, "--gpu", help="Training steps that can use a GPU ask for one (CPU fallback otherwise)."
)


def _gpu(wanted: bool) -> None:
    """Pipelines read this when they are built: before their module is imported."""
    import os

    from novamind_core.infrastructure.kfp.cluster import GPU_SETTING

    os.environ[GPU_SETTING] = "1" if wanted else "0"


@app.command()
@handles_errors
def compile(
    name: str = typer.Argument(..., help="Pipeline name."),
    out: Path = typer.Option(..., help="Where to write the KFP IR YAML."),
    gpu: bool = GPU,
) -> None:
    """Compile a pipeline to KFP IR YAML for a Kubeflow cluster: every step with its
    settings from the ml-config ConfigMap, its keys from the ml-secrets Secret, its
    resources, retries and no cache."""
    from kfp import compiler

    from novamind_core.families import pipeline

    _gpu(gpu)
    compiler.Compiler().compile(pipeline(name).load(fresh=True), str(out))
    console.print(f"compiled {name} to {out}")


@app.command()
@handles_errors
def submit(
    name: str = typer.Argument(..., help="Pipeline name."),
    host: str = typer.Option(
        "", help="KFP API endpoint, e.g. http://localhost:8888 (empty: the in-cluster default)."
    ),
    param: list[str] = PARAM,
    experiment: str = typer.Option("novamind", help="KFP experiment name."),
    gpu: bool = GPU,
) -> None:
    """Submit a pipeline run to a Kubeflow Pipelines cluster."""
    import kfp

    _gpu(gpu)
    entry, params = _checked(name, param)
    params.setdefault("run_tag", uuid.uuid4().hex)
    if "launched_by" in entry.defaults():
        params["launched_by"] = _who()
    where = host or "the in-cluster endpoint"
    try:
        client = kfp.Client(host=host or None)
        result = client.create_run_from_pipeline_func(
            entry.load(fresh=True), arguments=params, experiment_name=experiment
        )
    except Exception as exc:  # any transport or API failure: say which host, and why
        raise ServiceUnavailableError(
            f"could not submit to KFP at {where}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no answer'}"
        ) from None
    console.print(f"submitted {name}: run id {result.run_id}")
