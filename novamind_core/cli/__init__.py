"""The ``novamind`` command: sub-commands grouped by job."""

from __future__ import annotations

import typer

from novamind_core.cli import audit, data, deploy, events, models, monitor, pgx, pipeline, twin
from novamind_core.cli.common import configure
from novamind_core.cli.console import console
from novamind_core.cli.correlate import correlate
from novamind_core.cli.serve import serve
from novamind_core.cli.token import token

app = typer.Typer(
    name="novamind",
    help="NovaMind Digital Twin: train, register, review, serve and monitor the twin's models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(configure)
app.add_typer(data.app, name="data")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(models.app, name="models")
app.add_typer(deploy.app, name="deploy")
app.add_typer(monitor.app, name="monitor")
app.add_typer(audit.app, name="audit")
app.add_typer(pgx.app, name="pgx")
app.add_typer(twin.app, name="twin")
app.add_typer(events.app, name="events")
app.command("token")(token)
app.command("serve")(serve)
app.command("correlate")(correlate)
app.command("console")(console)


def main() -> None:
    app()
