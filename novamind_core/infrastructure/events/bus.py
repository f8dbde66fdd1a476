"""Two buses with one interface: Kafka protocol (aiokafka) when a bootstrap is configured,
in-process queues otherwise (the embedded default, one process only).

``publish(topic, key, value)`` sends bytes; ``consume(topics, handler)`` calls
``handler(topic, key, value)`` for every message from now on, in order per partition, and
keeps going when a handler raises (the error is logged, the message skipped).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from novamind_core.infrastructure.events.topics import ALL_TOPICS

log = logging.getLogger(__name__)
Handler = Callable[[str, bytes | None, bytes], Awaitable[None]]


class InProcessBus:
    """Topics as in-process fan-out queues: every consumer sees every later message."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[frozenset[str], asyncio.Queue]] = []
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        return None

    @property
    def ready(self) -> bool:
        return True

    async def publish(self, topic: str, key: str | None, value: bytes) -> None:
        for topics, queue in self._subscribers:
            if topic in topics:
                queue.put_nowait((topic, key.encode() if key else None, value))

    def consume(self, topics: tuple[str, ...], handler: Handler) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.append((frozenset(topics), queue))
        self._tasks.append(asyncio.get_running_loop().create_task(_drain(queue, handler)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _drain(queue: asyncio.Queue, handler: Handler) -> None:
    while True:
        topic, key, value = await queue.get()
        await _handled(handler, topic, key, value)


async def _handled(handler: Handler, topic: str, key, value) -> None:
    try:
        await handler(topic, key, value)
    except Exception as exc:  # a consumer never dies of one message
        log.error("handling a %s event failed: %s", topic, type(exc).__name__)


class KafkaBus:
    """aiokafka producer and consumers on ``bootstrap``. Each process reads every message
    with a consumer group of its own (every twin replica must see every update for its
    own live clients; the cache they share is invalidated idempotently), from the latest
    offset at start."""

    def __init__(self, bootstrap: str, client_id: str = "novamind", create_topics: bool = True):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.create_topics = create_topics
        self.producer = None
        self._consumers: list = []
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        if self.create_topics:
            await ensure_topics(self.bootstrap)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.client_id, acks="all"
        )
        await self.producer.start()

    @property
    def ready(self) -> bool:
        """Started, and every consumer has its partitions (events from now on are seen)."""
        return self.producer is not None and all(c.assignment() for c in self._consumers)

    async def publish(self, topic: str, key: str | None, value: bytes) -> None:
        await self.producer.send_and_wait(topic, value, key=key.encode() if key else None)

    def consume(self, topics: tuple[str, ...], handler: Handler) -> None:
        from aiokafka import AIOKafkaConsumer

        group = f"{self.client_id}-{socket.gethostname()}-{os.getpid()}-{len(self._consumers)}"
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            auto_offset_reset="latest",
            enable_auto_commit=True,
        )
        self._consumers.append(consumer)
        self._tasks.append(asyncio.get_running_loop().create_task(_read(consumer, handler)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()
        if self.producer is not None:
            await self.producer.stop()


async def _read(consumer, handler: Handler) -> None:
    await consumer.start()
    async for message in consumer:
        await _handled(handler, message.topic, message.key, message.value)


async def ensure_topics(bootstrap: str, topics: tuple[str, ...] = ALL_TOPICS) -> None:
    """Create the platform's topics that are missing (a cluster's come from its
    KafkaTopic resources; a development broker gets them here)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, num_partitions=1, replication_factor=1) for t in topics]
        missing = [t for t in missing if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


def bus_for(settings, client_id: str = "novamind"):
    """The Kafka bus when ``NOVAMIND_KAFKA_BOOTSTRAP`` is set, else an in-process one."""
    if settings.kafka_bootstrap:
        return KafkaBus(settings.kafka_bootstrap, client_id)
    return InProcessBus()


def publish_now(settings, topic: str, events: list[tuple[str | None, bytes]]) -> int:
    """Publish from a command (not a running service): the events sent, or 0 when no
    Kafka bootstrap is configured (an in-process bus reaches no other process)."""
    if not settings.kafka_bootstrap:
        return 0

    async def send() -> int:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            batch = [
                await producer.send(topic, value, key=key.encode() if key else None)
                for key, value in events
            ]
            await asyncio.gather(*batch)
        finally:
            await producer.stop()
        return len(events)

    return asyncio.run(send())
