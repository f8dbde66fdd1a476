"""What commands tell the event bus: a champion moved, a dataset version was stored.

Nothing is sent without ``NOVAMIND_KAFKA_BOOTSTRAP`` (the in-process bus reaches no other
process). A bus that cannot be reached never undoes or fails the work already done: the
failure is logged, and the caller learns how many events went out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from novamind_core.infrastructure.events.bus import publish_now
from novamind_core.infrastructure.events.topics import (
    MODEL_PROMOTIONS,
    SYMPTOM_UPDATES,
    ModelPromotion,
    SymptomUpdate,
    encode,
)

log = logging.getLogger(__name__)


def promotion(settings, model: str, version: str, action: str) -> int:
    event = ModelPromotion(model=model, version=str(version), action=action, at=datetime.now(UTC))
    return _send(settings, MODEL_PROMOTIONS, [(model, encode(event))])


def dataset_stored(settings, version: str, patients: list[str]) -> int:
    """One symptom update per patient of a newly stored dataset version."""
    now = datetime.now(UTC)
    events = [
        (
            p,
            encode(
                SymptomUpdate(patient=p, kind="dataset", dataset_version=version, emitted_at=now)
            ),
        )
        for p in patients
    ]
    return _send(settings, SYMPTOM_UPDATES, events)


def _send(settings, topic: str, events: list) -> int:
    try:
        return publish_now(settings, topic, events)
    except Exception as exc:
        log.warning(
            "could not publish %d event(s) to %s: %s", len(events), topic, type(exc).__name__
        )
        return 0
