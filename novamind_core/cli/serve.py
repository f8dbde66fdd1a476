"""``novamind serve``: the local KServe server with the champion of every model family."""

from __future__ import annotations

import typer

from novamind_core.cli.common import handles_errors, settings_or_exit


@handles_errors
def serve(
    port: int = typer.Option(8080, help="HTTP port (V1 and V2 REST)."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (0.0.0.0: every interface, e.g. in a container)."
    ),
    poll_seconds: float = typer.Option(30.0, min=1.0, help="How often to look for a new champion."),
    max_body_kib: int = typer.Option(1024, min=1, help="Largest request body accepted."),
    workers: int = typer.Option(
        1, min=1, help="Server processes sharing the port (one core's worth of work each)."
    ),
    model: list[str] = typer.Option(
        [], "--model", help="Serve only this registered model (repeatable; default: all)."
    ),
) -> None:
    """Serve the champions over KServe V1 and V2 (Open Inference) REST on one port."""
    from novamind_core.families import family_of
    from serving.server import ServeOptions
    from serving.server import serve as run_server

    options = ServeOptions(
        port=port,
        host=host,
        poll_seconds=poll_seconds,
        max_body_bytes=max_body_kib * 1024,
        workers=workers,
        models=tuple(family_of(name).model_name for name in model) or None,
    )
    run_server(settings_or_exit(), options)
