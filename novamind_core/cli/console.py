"""``novamind console``: the web console for reviewers."""

from __future__ import annotations

import typer

from novamind_core.cli.common import handles_errors, settings_or_exit


@handles_errors
def console(
    port: int = typer.Option(None, help="HTTP port (default NOVAMIND_CONSOLE_PORT, 8095)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
) -> None:
    """Serve the console: the registry, reviews with charts, approve / reject / roll back in
    the browser (reviewer role), audit trails and drift reports."""
    from novamind_core.console.app import serve

    settings = settings_or_exit()
    serve(settings, host, port or settings.console_port)
