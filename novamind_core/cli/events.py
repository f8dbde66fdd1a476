"""``novamind events publish``: put a symptom update on the event bus (Kafka protocol)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import typer

from novamind_core.cli.common import console, handles_errors, settings_or_exit
from novamind_core.domain.errors import ConfigurationError, ValidationError

app = typer.Typer(help="The event bus: symptom updates, twin insights, model promotions.")


@app.command("publish")
@handles_errors
def publish(
    patient: str = typer.Option(..., help="The patient's pseudonym (p_ + 24 hex digits)."),
    kind: str = typer.Option("self_report", help="self_report, wearable_summary or dataset."),
    day: str = typer.Option(None, help="The day the values are for (YYYY-MM-DD; default today)."),
    value: list[str] = typer.Option(
        [], "--value", help="A measure and its value, e.g. phq9=12 or sleep_hours=6.5 (repeatable)."
    ),
) -> None:
    """Publish one symptom update (pseudonymized) to novamind.symptom-updates."""
    from pydantic import ValidationError as Invalid

    from novamind_core.infrastructure.events.bus import publish_now
    from novamind_core.infrastructure.events.topics import SYMPTOM_UPDATES, SymptomUpdate, encode

    settings = settings_or_exit()
    if not settings.kafka_bootstrap:
        raise ConfigurationError(
            "NOVAMIND_KAFKA_BOOTSTRAP is not set: without a Kafka-protocol broker the bus is "
            "in-process (inside `novamind twin serve`) and no other process can reach it"
        )
    values = {}
    for item in value:
        name, _, number = item.partition("=")
        try:
            values[name.strip()] = float(number)
        except ValueError:
            raise ValidationError(f"--value {name.strip()!r}: write NAME=NUMBER") from None
    try:
        event = SymptomUpdate(
            patient=patient,
            kind=kind,
            day=date.fromisoformat(day) if day else datetime.now(UTC).date(),
            values=values,
            emitted_at=datetime.now(UTC),
        )
    except (Invalid, ValueError) as exc:
        problems = getattr(exc, "errors", lambda **_: [])(include_input=False, include_url=False)
        text = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
        raise ValidationError(f"not a valid symptom update: {text or 'bad day'}") from None
    publish_now(settings, SYMPTOM_UPDATES, [(event.patient, encode(event))])
    console.print(f"published a {kind} update to {SYMPTOM_UPDATES}")
