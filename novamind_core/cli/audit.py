"""``novamind audit``: inspect, verify and repair the tamper-evident audit trail."""

from __future__ import annotations

import typer
from rich.table import Table

from novamind_core.cli.common import console, err_console, handles_errors
from novamind_core.infrastructure import composition

app = typer.Typer(help="Inspect, verify and repair the audit trail.", no_args_is_help=True)


@app.command()
@handles_errors
def verify() -> None:
    """Check every entry's MAC, the chain and the signed checkpoints; exit 1 and name every
    problem if the trail was tampered with, cut short, replaced, deleted or torn."""
    trail = composition.audit_trail()
    problems = trail.verify()
    if not problems:
        console.print(f"[green]intact[/]: {len(trail.entries())} entries in {trail.path}")
        return
    for p in problems:
        where = f"line {p.line}" if p.line is not None else "trail"
        entry = f" (entry {p.seq})" if p.seq is not None else ""
        err_console.print(f"[red]{where}[/]{entry}: {p.problem}", highlight=False)
    raise typer.Exit(1)


@app.command()
@handles_errors
def repair() -> None:
    """Move torn (half-written) or unreadable lines out of the trail into a quarantine file
    beside it, and record the repair as an audit entry; whole entries stay as they are."""
    done = composition.audit_trail().repair()
    if not done.lines:
        console.print("nothing to repair: every line is a whole entry")
        return
    console.print(
        f"moved line(s) {', '.join(map(str, done.lines))} to {done.quarantine} "
        "(recorded as an audit_repaired entry)"
    )


@app.command()
@handles_errors
def show(last: int = typer.Option(20, min=1, help="How many recent entries.")) -> None:
    """Print the most recent audit entries."""
    table = Table("seq", "time (UTC)", "actor", "action", "resource")
    for entry in composition.audit_trail().entries()[-last:]:
        table.add_row(
            str(entry["seq"]),
            str(entry.get("timestamp", ""))[:19],
            str(entry.get("actor", "")),
            str(entry.get("action", "")),
            str(entry.get("resource", "")),
        )
    console.print(table)
