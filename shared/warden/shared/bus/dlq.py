"""Dead-letter topics: read what failed and why, replay it to its original topic."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from warden.shared.bus.kafka import create_producer
from warden.shared.contracts.topics import dlq
from warden.shared.settings import ServiceSettings


def describe(record) -> dict:
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
    return {
        "offset": record.offset,
        "partition": record.partition,
        "key": record.key.decode(errors="replace") if record.key else None,
        "reason": headers.get("dlq.reason"),
        "error_type": headers.get("dlq.error.type"),
        "original": f"{headers.get('dlq.original.topic')}"
                    f"[{headers.get('dlq.original.partition')}]@{headers.get('dlq.original.offset')}",
        "failed_at": headers.get("dlq.failed.at"),
        "consumer": headers.get("dlq.consumer"),
        "value_preview": (record.value or b"")[:200].decode(errors="replace"),
    }


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["error_code"] == 0
                  for p in t["partitions"])


async def read_dead_letters(settings: ServiceSettings, topic: str, limit: int) -> list[dict]:
    name = dlq(settings.topic(topic))
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                group_id=None)
    partitions = [TopicPartition(name, p) for p in await partitions_of(settings.kafka_bootstrap, name)]
    if not partitions:
        return []
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - limit))
        records = []
        while await _behind(consumer, ends):
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            records.extend(r for rs in batch.values() for r in rs)
        records.sort(key=lambda r: r.timestamp)
        return [describe(r) for r in records[-limit:]]
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def replay_dead_letters(settings: ServiceSettings, topic: str, limit: int, group: str) -> int:
    """Send dead letters back to the original topic, stripped of the ``dlq.*`` headers."""
    name = dlq(settings.topic(topic))
    consumer = AIOKafkaConsumer(name, bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=f"{settings.topic_prefix}{group}")
    producer = create_producer(settings.kafka_bootstrap, f"warden-dlq-replay-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        while replayed < limit:
            batch = await consumer.getmany(timeout_ms=2000, max_records=min(500, limit - replayed))
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq.")]
                    original = dict(record.headers or []).get("dlq.original.topic")
                    target = original.decode() if original else settings.topic(topic)
                    await producer.send_and_wait(target, value=record.value, key=record.key,
                                                 headers=headers)
                    replayed += 1
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
