"""What every sub-command shares: settings, console, logging, error translation."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from novamind_core.domain.errors import ConfigurationError, NovaMindError

LOG_WIDTH = 160  # tables written to a file or pipe are not squeezed into 80 columns


def _width(stream) -> int | None:
    """Keep tables readable when output is not a terminal (a log, a pipe): Rich would
    assume 80 columns there and cut names short. ``COLUMNS`` wins."""
    return LOG_WIDTH if not stream.isatty() and not os.environ.get("COLUMNS") else None


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))
F = TypeVar("F", bound=Callable[..., Any])


def configure(
    log_level: str = typer.Option(None, help="Override NOVAMIND_LOG_LEVEL for this run."),
) -> None:
    """Read settings and set up JSON logging before any sub-command runs."""
    from novamind_core.infrastructure.observability.logging import (
        configure_logging,
        new_correlation_id,
    )

    settings = settings_or_exit()
    configure_logging(log_level or settings.log_level, settings.service_name)
    new_correlation_id()


def settings_or_exit():
    from novamind_core.infrastructure.settings import get_settings

    try:
        return get_settings()
    except ConfigurationError as exc:
        fail(exc)


def fail(exc: NovaMindError) -> None:
    """Print a domain error for a person and exit with its code (no traceback)."""
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(exc.exit_code)


def handles_errors(func: F) -> F:
    """Turn the platform's own errors into a message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NovaMindError as exc:
            fail(exc)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
