"""``novamind twin serve|try``: the digital twin's integration service."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import typer

from novamind_core.cli.common import console, handles_errors, settings_or_exit

PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")

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


@app.command("try")
@handles_errors
def try_twin(
    patient: str = typer.Option(..., help="The patient's pseudonym (p_ + 24 hex digits)."),
    forecast_days: int = typer.Option(14, help="Days of symptom forecast to ask for."),
    out: Path = typer.Option(None, help="Write the twin's answer (JSON) here."),
) -> None:
    """Start the three model servers and the twin on loopback, ask the twin about one
    patient (a cold answer, then the cached one), print what it says, and stop them all."""
    import httpx

    from novamind_core.domain.errors import ValidationError
    from novamind_core.infrastructure.monitoring.replay import service_credentials
    from novamind_core.twin.local_stack import local_stack

    settings = settings_or_exit()
    if not PSEUDONYM.match(patient):
        raise ValidationError("--patient must be a pseudonym ('p_' + 24 hex digits)")
    headers = service_credentials(settings)
    log_dir = settings.data_dir / "logs" / "twin-try"
    with console.status("starting the model servers and the twin"), local_stack(log_dir) as stack:
        url = f"{stack.twin.url}/v1/twin/{patient}/insights"
        params = {"forecast_days": forecast_days}
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            response = httpx.get(url, params=params, headers=headers, timeout=60)
            timings.append((time.perf_counter() - started) * 1000)
    if response.status_code not in (200, 503):
        raise ValidationError(f"the twin answered {response.status_code}: {response.text[:300]}")
    answer = response.json()
    _show(answer, timings)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(answer, indent=2))
        console.print(f"the whole answer: {out}")


def _show(answer: dict, timings: list[float]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"the twin on {answer['patient']}")
    for column in ("part", "model", "version", "ms", "what"):
        table.add_column(column)
    for part, source in answer["sources"].items():
        table.add_row(
            part,
            source["model"],
            source["version"],
            f"{source['duration_ms']:.0f}",
            _what(part, answer[part]),
        )
    for missing in answer["unavailable"]:
        table.add_row(
            missing["part"],
            missing["model"],
            "-",
            "-",
            f"[yellow]{missing['reason']}[/]: {missing['detail']}",
        )
    console.print(table)
    for rec in answer["integrated_recommendations"]:
        console.print(escape(f"  [{rec['priority']}] {rec['text']}"), highlight=False)
    if not answer["integrated_recommendations"]:
        console.print("  no integrated recommendation: no rule's threshold was reached")
    if answer.get("cached"):
        second = "from the cache"
    elif answer["unavailable"]:
        second = "asked again: partial answers are not cached"
    else:
        second = "asked again: the first answer was partial"
    console.print(f"first answer {timings[0]:.0f} ms, then {timings[1]:.0f} ms ({second})")


def _what(part: str, value: dict) -> str:
    if part == "symptom_forecast":
        text = f"{value['target']} for {value['days']} days"
        return text + (f" ({value['note']})" if "note" in value else "")
    if part == "biometric_correlations":
        return (
            f"{len(value['relations'])} significant of {value['tests']} tests over the last "
            f"{value['lookback_days']} days; {len(value['forecast'])} symptom-days forecast"
        )
    top = value["recommendations"][:1]
    return f"{len(value['recommendations'])} drugs ranked" + (
        f"; first: {top[0]['drug']}" if top else ""
    )
