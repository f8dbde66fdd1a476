"""``novamind audit``: inspect and verify the tamper-evident audit trail."""

from __future__ import annotations

import typer
from rich.table import Table

from novamind_core.cli.common import console, err_console, handles_errors
from novamind_core.infrastructure import composition

app = typer.Typer(help="Inspect and verify the audit trail.", no_args_is_help=True)


@app.command()
@handles_errors
def verify() -> None:
    """Check the hash chain; exit 1 and name every broken entry if it was tampered with."""
    trail = composition.audit_trail()
    problems = trail.verify()
    if not problems:
        console.print(f"[green]intact[/]: {len(trail.entries())} entries in {trail.path}")
        return
    for p in problems:
        err_console.print(f"[red]line {p.line}[/] (entry {p.seq}): {p.problem}")
    raise typer.Exit(1)


@app.command()
@handles_errors
def show(last: int = typer.Option(20, min=1, help="How many recent entries.")) -> None:
    """Print the most recent audit entries."""
    table = Table("seq", "time (UTC)", "actor", "action", "resource")
    for entry in composition.audit_trail().entries()[-last:]:
        table.add_row(
            str(entry["seq"]),
            entry["timestamp"][:19],
            entry["actor"],
            entry["action"],
            entry["resource"],
        )
    console.print(table)
