"""Dead-letter topics: what a dead letter carries, read what failed and why, replay it.

A dead letter is the original record — value, key, headers and timestamp — plus ``dlq.*``
headers saying why. Replay sends value, key, the original headers and the original
timestamp back, so a replayed report keeps its receipt time (legal clocks run from it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from warden.shared.bus.kafka import OutgoingRecord, Publisher, started
from warden.shared.clock import utcnow
from warden.shared.contracts.topics import dlq
from warden.shared.settings import ServiceSettings

def original_timestamp_ms(record: ConsumerRecord) -> int | None:
    """The record's own timestamp, to be kept by its copies (None: let Kafka stamp it)."""
    if record.timestamp is None or record.timestamp < 0:
        return None
    return record.timestamp


def dlq_headers(record: ConsumerRecord, *, reason: str, error_type: str, consumer: str,
                attempts: int) -> list[tuple[str, bytes]]:
    """The record's own headers plus why it failed (``reason`` must already be scrubbed)."""
    return [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq.")] + [
        ("dlq.reason", reason[:4000].encode()),
        ("dlq.error.type", error_type.encode()),
        ("dlq.original.topic", record.topic.encode()),
        ("dlq.original.partition", str(record.partition).encode()),
        ("dlq.original.offset", str(record.offset).encode()),
        ("dlq.original.timestamp", str(record.timestamp).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.failed.at", utcnow().isoformat().encode()),
    ]


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
        "timestamp": record.timestamp,
        "consumer": headers.get("dlq.consumer"),
        "value_preview": (record.value or b"")[:200].decode(errors="replace"),
    }


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    async with started(AIOKafkaAdminClient(bootstrap_servers=bootstrap)) as admin:
        described = await admin.describe_topics([topic])
    return sorted(p["partition"] for t in described if t["error_code"] == 0
                  for p in t["partitions"])


async def read_dead_letters(settings: ServiceSettings, topic: str, limit: int) -> list[dict]:
    name = dlq(settings.topic(topic))
    partitions = [TopicPartition(name, p) for p in await partitions_of(settings.kafka_bootstrap, name)]
    if not partitions:
        return []
    async with started(AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                        enable_auto_commit=False, group_id=None)) as consumer:
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


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


@dataclass
class Replay:
    """What a replay did (or, dry, would do)."""

    replayed: int = 0
    skipped: int = 0
    dry_run: bool = False
    letters: list[dict] | None = None


LetterFilter = Callable[[dict], bool]


def letter_filter(reason: str | None = None, error_type: str | None = None,
                  key: str | None = None) -> LetterFilter:
    """Select dead letters whose reason contains ``reason``, of ``error_type``, with ``key``."""
    def matches(letter: dict) -> bool:
        return ((reason is None or reason in (letter["reason"] or ""))
                and (error_type is None or letter["error_type"] == error_type)
                and (key is None or letter["key"] == key))
    return matches


async def replay_dead_letters(settings: ServiceSettings, topic: str, limit: int, group: str, *,
                              where: LetterFilter | None = None,
                              dry_run: bool = False,
                              on_start: Callable[[int], None] = lambda total: None,
                              on_progress: Callable[[int], None] = lambda n: None) -> Replay:
    """Send dead letters back to their original topic: value, key, original headers (the
    ``dlq.*`` ones stripped) and original timestamp.

    Progress is kept in consumer group ``group``: a letter is replayed once, and one that
    ``where`` rejects is passed over for good. ``dry_run`` only lists what would go (and
    moves no progress). ``on_start`` gets the number of letters to look at (at most
    ``limit``), ``on_progress`` each batch looked at (for a progress bar).
    """
    name = dlq(settings.topic(topic))
    consumer = AIOKafkaConsumer(name, bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=f"{settings.topic_prefix}{group}")
    publisher = Publisher(settings.kafka_bootstrap, f"warden-dlq-replay-{uuid.uuid4().hex[:6]}")
    result = Replay(dry_run=dry_run, letters=[] if dry_run else None)
    try:
        await consumer.start()  # inside: a broker that cannot be reached still closes it
        ends = await _ends_once_assigned(consumer)
        waiting = 0
        for tp, end in ends.items():
            waiting += max(0, end - await consumer.position(tp))
        on_start(min(waiting, limit))
        while result.replayed < limit and await _behind(consumer, ends):
            batch = await consumer.getmany(timeout_ms=2000,
                                           max_records=min(500, limit - result.replayed))
            for records in batch.values():
                for record in records:
                    letter = describe(record)
                    if where is not None and not where(letter):
                        result.skipped += 1
                        continue
                    result.replayed += 1
                    if dry_run:
                        result.letters.append(letter)
                    else:
                        await publisher.send(_back_to_its_topic(record, settings.topic(topic)))
                on_progress(len(records))
            if not dry_run and batch:
                await consumer.commit()
    finally:
        await publisher.stop()
        await consumer.stop()
    return result


async def _ends_once_assigned(consumer: AIOKafkaConsumer,
                              timeout_s: float = 60.0) -> dict[TopicPartition, int]:
    """End offsets of the group's partitions, read once the group assigned them (joining a
    group takes a few seconds; a fixed short wait would miss everything on a busy box)."""
    async with asyncio.timeout(timeout_s):
        while not consumer.assignment():
            await asyncio.sleep(0.1)  # the group joins in aiokafka's background task
    return await consumer.end_offsets(list(consumer.assignment()))


def _back_to_its_topic(record: ConsumerRecord, fallback_topic: str) -> OutgoingRecord:
    headers = dict(record.headers or [])
    original = headers.get("dlq.original.topic")
    timestamp = headers.get("dlq.original.timestamp")
    timestamp_ms = int(timestamp) if timestamp and timestamp.lstrip(b"-").isdigit() else None
    if timestamp_ms is None or timestamp_ms < 0:
        timestamp_ms = original_timestamp_ms(record)  # dead letters from before the header
    return OutgoingRecord(
        original.decode() if original else fallback_topic, record.value, record.key,
        [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq.")],
        timestamp_ms=timestamp_ms)
