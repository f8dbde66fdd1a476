"""Live updates: who watches which patient, and what the twin does with an event.

A symptom update drops the patient's cached answers; when someone watches that patient
(a WebSocket on this replica), the twin computes fresh insights at once, pushes them to
every watcher and publishes them on the insights topic. A promotion clears the cache and
refreshes every watched patient. An event that does not parse is counted, logged without
its content and sent to the dead-letter topic sealed with the store's key (it may hold
what should never travel in clear: a raw identifier where a pseudonym belongs).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime

from novamind_core.infrastructure.events import topics
from novamind_core.infrastructure.observability import tracing
from novamind_core.twin import metrics
from novamind_core.twin.parts import Options

log = logging.getLogger(__name__)


class Watchers:
    """Per patient, the queues of the WebSockets watching it, with their options."""

    def __init__(self, max_queue: int = 8):
        self.max_queue = max_queue
        self._by_patient: dict[str, dict[asyncio.Queue, Options]] = {}

    def watch(self, pseudonym: str, options: Options) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self.max_queue)
        self._by_patient.setdefault(pseudonym, {})[queue] = options
        metrics.LIVE_CLIENTS.inc()
        return queue

    def leave(self, pseudonym: str, queue: asyncio.Queue) -> None:
        watching = self._by_patient.get(pseudonym, {})
        if watching.pop(queue, None) is not None:
            metrics.LIVE_CLIENTS.dec()
        if not watching:
            self._by_patient.pop(pseudonym, None)

    def patients(self) -> list[str]:
        return list(self._by_patient)

    def options_of(self, pseudonym: str) -> list[Options]:
        return list(dict.fromkeys(self._by_patient.get(pseudonym, {}).values()))

    def push(self, pseudonym: str, options: Options, message: dict) -> None:
        for queue, wanted in self._by_patient.get(pseudonym, {}).items():
            if wanted != options:
                continue
            if queue.full():  # a slow watcher gets the newest insights, not a backlog
                queue.get_nowait()
            queue.put_nowait(message)


class EventHandler:
    """Consumes the symptom-update and promotion topics for one twin."""

    def __init__(self, twin, watchers: Watchers, bus, cipher, audit=None):
        self.twin = twin
        self.watchers = watchers
        self.bus = bus
        self.cipher = cipher  # seals dead letters
        self.audit = audit

    async def __call__(self, topic: str, key: bytes | None, value: bytes) -> None:
        try:
            event = topics.parse(topic, value)
        except topics.BadEvent as bad:
            await self._dead_letter(topic, value, str(bad))
            return
        metrics.EVENTS.labels(topic, "accepted").inc()
        if isinstance(event, topics.SymptomUpdate):
            await self.twin.forget(event.patient)
            await self.refresh(event.patient, reason=f"symptom update ({event.kind})")
        else:
            await self.twin.promoted(event.model)
            for patient in self.watchers.patients():
                await self.refresh(patient, reason=f"{event.model} {event.action}")

    async def refresh(self, pseudonym: str, reason: str) -> None:
        """Fresh insights for every option set watching ``pseudonym``, pushed and published."""
        for options in self.watchers.options_of(pseudonym):
            try:
                with tracing.span("twin.refresh", {"novamind.reason": reason.split(" (")[0]}):
                    answer, _ = await self.twin.insights(pseudonym, options)
            except Exception as exc:
                log.warning("refreshing a watched patient failed: %s", type(exc).__name__)
                continue
            message = {"type": "insights", "reason": reason, "insights": answer}
            self.watchers.push(pseudonym, options, message)
            await self.bus.publish(topics.TWIN_INSIGHTS, pseudonym, topics.encode(answer))
            if self.audit is not None:
                self.audit.record("twin_live_push", "twin", patients=[pseudonym], reason=reason)

    async def _dead_letter(self, topic: str, value: bytes | None, reason: str) -> None:
        metrics.EVENTS.labels(topic, "rejected").inc()
        log.warning("rejected an event on %s: %s (sent to %s)", topic, reason, topics.DEAD_LETTERS)
        received = datetime.now(UTC).isoformat()
        sealed = self.cipher.encrypt(value or b"", f"dead-letter/{topic}/{received}")
        letter = {
            "topic": topic,
            "reason": reason,
            "received_at": received,
            "sealed_event": base64.b64encode(sealed).decode(),
        }
        await self.bus.publish(topics.DEAD_LETTERS, None, topics.encode(letter))
