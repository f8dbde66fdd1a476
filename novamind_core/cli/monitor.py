"""``novamind monitor``: is what the served model sees still what it was trained on?"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from novamind_core.cli.common import console, err_console, handles_errors
from novamind_core.domain.errors import ServiceUnavailableError, ValidationError
from novamind_core.infrastructure import composition

app = typer.Typer(help="Monitor served models for drift.", no_args_is_help=True)

EXIT_DRIFT = 10
EXIT_NOT_JUDGED = 11


@app.command("drift")
@handles_errors
def drift(
    model: str = typer.Option(
        None, "--model", help="Registered model name (default: the first family's)."
    ),
    since: str = typer.Option(None, help="Only payloads logged at or after this date (UTC)."),
    current: Path = typer.Option(
        None, help="Judge this feature frame (Parquet/CSV) instead of the payload log."
    ),
    out: Path = typer.Option(None, help="Where to write drift_report.html/.json."),
    min_samples: int = typer.Option(None, min=1, help="Override the policy's minimum sample size."),
    exit_zero: bool = typer.Option(
        False, "--exit-zero", help="Exit 0 even on drift (still alerts): for demos."
    ),
) -> None:
    """Compare the champion's served payloads (or --current) with its training reference.

    Writes an Evidently report (HTML and JSON), logs it and the drift scores to MLflow,
    tags the champion with the verdict and, on drift, alerts (log line, webhook).
    Exit codes: 0 no drift, 10 drift detected, 11 not judged (too little data).
    """
    if since is not None and current is not None:
        raise ValidationError("give --since or --current, not both")
    from novamind_core.domain.drift import DriftStatus
    from novamind_core.families import DEFAULT_MODEL, family_of, parse_since
    from novamind_core.infrastructure.monitoring.drift_check import run_drift_check

    model = model or DEFAULT_MODEL
    features = family_of(model).drift_features
    from novamind_core.infrastructure.store.location import StoreLocation

    target = (
        StoreLocation.from_uri(str(out)) if out else composition.location().child("drift", model)
    )
    with console.status("judging drift with Evidently…"):
        check = run_drift_check(model, features, parse_since(since), current, target, min_samples)
    result = check.result
    table = Table(
        "column",
        "threshold",
        "score",
        "current values",
        "verdict",
        title=f"{model} v{result.version} vs its training reference "
        f"({result.reference_rows} rows; {result.current_rows} current rows)",
    )
    for c in result.columns:
        verdict = "[red]drift[/]" if c.drifted else ("ok" if c.judged else "not judged")
        score = f"{c.score:.3f}" if c.judged else "-"
        table.add_row(c.column, f"{c.threshold:g}", score, str(c.current_count), verdict)
    console.print(table)
    if check.written_to is not None:
        console.print(f"report: {check.written_to}/drift_report.html and drift_report.json")
    if check.mlflow_run_id:
        console.print(f"MLflow run {check.mlflow_run_id} (experiment drift-monitor)")
    status = result.status
    line = f"{model} v{result.version}: {result.summary()}"
    if status is DriftStatus.DRIFT:
        err_console.print(f"[bold red]DRIFT[/] {line}", highlight=False)
        if not exit_zero:
            raise typer.Exit(EXIT_DRIFT)
    elif status is DriftStatus.INSUFFICIENT_DATA:
        err_console.print(f"[bold yellow]NOT JUDGED[/] {line}", highlight=False)
        if not exit_zero:
            raise typer.Exit(EXIT_NOT_JUDGED)
    else:
        console.print(f"[green]no drift[/] {line}", highlight=False)


@app.command("replay")
@handles_errors
def replay_command(
    model: str = typer.Option(
        None, "--model", help="Registered model name (default: the first family's)."
    ),
    patients: int = typer.Option(0, min=0, help="How many stored patients (0: all)."),
    concurrency: int = typer.Option(4, min=1, help="Requests in flight at once."),
) -> None:
    """Send one request per stored patient (by pseudonym) to a model through a local
    server (started and stopped here), so that its payload log holds traffic to monitor."""
    from rich.progress import Progress

    from novamind_core.families import DEFAULT_MODEL, family_of
    from novamind_core.infrastructure.monitoring.replay import replay

    model = family_of(model or DEFAULT_MODEL).model_name
    settings = composition.settings()
    store = composition.dataset_store()
    version = store.latest().version
    keys = sorted(store.read(version, "patients")["patient_key"].unique().tolist())
    composition.audit_trail().record(
        "read", f"{version}/patients", purpose="replay through local server"
    )
    if patients:
        keys = keys[:patients]
    log_path = settings.data_dir / "logs" / "replay-server.log"
    with Progress(console=console) as bar:
        task = bar.add_task(f"{model}: {len(keys)} stored patients", total=len(keys))
        result = replay(
            settings,
            model,
            keys,
            log_path,
            concurrency,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    console.print(
        f"{result.ok}/{result.sent} requests answered 200 in {result.seconds:.1f} s "
        f"(server log: {log_path})"
    )
    if result.failed:
        raise ServiceUnavailableError(f"some requests failed: {result.failed} (see {log_path})")
