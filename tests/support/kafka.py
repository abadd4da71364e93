"""Kafka helpers for tests: read what a service published, produce raw records."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from warden.shared.bus.kafka import ensure_topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.topics import all_topics_with_dlq


async def create_all_topics(bootstrap: str, prefix: str, partitions: int = 3) -> None:
    await ensure_topics(bootstrap, [f"{prefix}{t}" for t in all_topics_with_dlq()], partitions, 1)


async def delete_prefixed_topics(bootstrap: str, prefix: str) -> None:
    """Drop a test's topic namespace, so a long suite (or several at once) keeps the broker small."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="warden-test-cleanup")
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed, timeout_ms=30000)
    finally:
        await admin.close()


async def read_records(bootstrap: str, topic: str, *, expect: int,
                       timeout: float = 30.0,
                       where: Callable[[ConsumerRecord], bool] = lambda r: True,
                       settle: float = 0.0) -> list[ConsumerRecord]:
    """Read ``topic`` from the beginning until ``expect`` matching records arrived (or timeout).

    With ``settle`` > 0 it keeps reading that long after reaching ``expect``, so a test can
    prove that no extra record follows (exactly-once assertions).
    """
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=f"test-{uuid.uuid4().hex}")
    await consumer.start()
    found: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            found.extend(r for records in batches.values() for r in records if where(r))
            if len(found) >= expect:
                if settle > 0:
                    deadline = min(deadline, loop.time() + settle)
                    settle = 0
                    continue
                break
    finally:
        await consumer.stop()
    return found


async def read_events(bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0,
                      event_type: str | None = None, settle: float = 0.0) -> list[CloudEvent]:
    def matches(record: ConsumerRecord) -> bool:
        if event_type is None:
            return True
        return dict(record.headers or []).get("ce_type", b"").decode() == event_type

    records = await read_records(bootstrap, topic, expect=expect, timeout=timeout, where=matches,
                                 settle=settle)
    return [CloudEvent.from_bytes(r.value) for r in records]


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def produce_event(bootstrap: str, topic: str, event: CloudEvent, key: str) -> None:
    await produce(bootstrap, topic, event.to_bytes(), key.encode(),
                  headers=[("ce_type", event.type.encode()), ("ce_id", event.id.encode())])


async def produce_events(bootstrap: str, topic: str, events: list[CloudEvent], key: str) -> None:
    """Events sent together, in order, by one producer: they reach a consumer as one run."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    await producer.start()
    try:
        sent = [await producer.send(topic, value=e.to_bytes(), key=key.encode(),
                                    headers=[("ce_type", e.type.encode()),
                                             ("ce_id", e.id.encode())]) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
