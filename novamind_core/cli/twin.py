"""``novamind twin serve``: the digital twin's integration service."""

from __future__ import annotations

import typer

from novamind_core.cli.common import handles_errors, settings_or_exit

app = typer.Typer(help="The digital twin: one answer joined from the three families' models.")


@app.command("serve")
@handles_errors
def serve(
    port: int = typer.Option(None, help="HTTP port (default NOVAMIND_TWIN_PORT, 8090)."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (0.0.0.0: every interface, e.g. in a container)."
    ),
) -> None:
    """Serve GET /v1/twin/{pseudonym}/insights and the live WebSocket /v1/twin/{pseudonym}/live,
    calling the model servers named by NOVAMIND_TWIN_*_URL."""
    from novamind_core.twin.app import serve as run

    settings = settings_or_exit()
    run(settings, host, port or settings.twin_port)
