"""The faults, each as an on-call engineer would meet it: what breaks, and what ends it.

``inject`` starts the fault, ``heal`` ends it after ``hold_s`` (for a killed service the
supervisor heals it: ``heal`` has nothing to do). A fault may add its own checks (poison
records must each reach the dead-letter topic of every consumer of their topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from chaos.infra import KafkaCluster, KafkaNode, Postgres
from chaos.ledger import behind
from chaos.system import System
from warden.shared.contracts.events import EVENT_MODELS
from warden.shared.contracts.topics import ALL_TOPICS, REPORTS_RAW, all_topics_with_dlq, dlq

# Topics that have a dead-letter topic (notifications.dlq is one itself and has none).
DEAD_LETTERED = [t for t in ALL_TOPICS if dlq(t) in all_topics_with_dlq()]


@dataclass
class Context:
    system: System
    postgres: Postgres
    kafka: KafkaNode | KafkaCluster


@dataclass
class Fault:
    name: str
    description: str
    hold_s: float = 0.0

    async def inject(self, ctx: Context) -> None:
        raise NotImplementedError

    async def heal(self, ctx: Context) -> None:
        return None

    async def problems(self, ctx: Context) -> dict[str, list[str]]:
        """What this fault itself must have led to and did not (empty: nothing missing)."""
        return {}

    def as_json(self) -> dict:
        return {"name": self.name, "description": self.description, "hold_s": self.hold_s}


@dataclass
class KillService(Fault):
    service: str = ""

    async def inject(self, ctx: Context) -> None:
        ctx.system.kill(self.service)


@dataclass
class RestartPostgres(Fault):
    async def inject(self, ctx: Context) -> None:
        await ctx.postgres.stop()

    async def heal(self, ctx: Context) -> None:
        await ctx.postgres.start()


@dataclass
class RestartBroker(Fault):
    async def inject(self, ctx: Context) -> None:
        assert isinstance(ctx.kafka, KafkaNode)
        await ctx.kafka.stop()

    async def heal(self, ctx: Context) -> None:
        await ctx.kafka.start()


@dataclass
class LoseClusterBroker(Fault):
    node: int = 1
    how: str = "kill"   # "kill" (SIGKILL) or "stop" (clean shutdown)

    async def inject(self, ctx: Context) -> None:
        assert isinstance(ctx.kafka, KafkaCluster)
        if self.how == "kill":
            await ctx.kafka.kill(self.node)
        else:
            await ctx.kafka.stop(self.node)

    async def heal(self, ctx: Context) -> None:
        await ctx.kafka.start(self.node)


@dataclass
class ReceiverDown(Fault):
    async def inject(self, ctx: Context) -> None:
        await ctx.system.receiver.stop()

    async def heal(self, ctx: Context) -> None:
        await ctx.system.receiver.start()


# --------------------------------------------------------------------------- poison records

def poison_values(topic: str, tag: str) -> list[bytes]:
    """Records no consumer can use: not JSON, JSON that is no CloudEvent (or no report), and a
    well-formed envelope of the topic's own event type whose data breaks its schema."""
    values = [f"\xff not json {tag}".encode("latin-1"),
              json.dumps({"chaos": tag, "hello": "not an event"}).encode()]
    types = [t for t, (t_topic, _) in EVENT_MODELS.items() if t_topic == topic]
    for event_type in types:
        values.append(json.dumps({
            "specversion": "1.0", "id": f"chaos-{tag}-{event_type}", "source": "/chaos",
            "type": event_type, "time": "2026-01-01T00:00:00Z",
            "datacontenttype": "application/json", "data": {"chaos": tag}}).encode())
    return values


async def consumer_groups_by_topic(system: System) -> dict[str, list[str]]:
    """topic -> the consumer ids (``<service>.<consumer>``, as ``dlq.consumer`` names them)
    of every group of the run that subscribes to it (from the members' subscriptions, and
    from committed offsets should a group have no member at the moment)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka, client_id="chaos-admin")
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()
                  if g[0].startswith(f"{system.prefix}warden-")]
        readers: dict[str, list[str]] = {}

        def add(topic: str, consumer_id: str) -> None:
            topic = topic.removeprefix(system.prefix)
            if consumer_id not in readers.setdefault(topic, []):
                readers[topic].append(consumer_id)

        for group in groups:
            consumer_id = group.removeprefix(f"{system.prefix}warden-")
            for response in await admin.describe_consumer_groups([group]):
                for described in response.groups:
                    for member in described[5]:
                        with contextlib.suppress(Exception):
                            metadata = ConsumerProtocolMemberMetadata.decode(member[3])
                            for topic in metadata.subscription:
                                add(topic, consumer_id)
            for tp in await admin.list_consumer_group_offsets(group):
                add(tp.topic, consumer_id)
        return readers
    finally:
        await admin.close()


@dataclass
class PoisonRecords(Fault):
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    sent: dict[str, list[bytes]] = field(default_factory=dict)
    readers: dict[str, list[str]] = field(default_factory=dict)
    dead_letters: dict[bytes, dict[str, str]] = field(default_factory=dict)  # value -> consumer -> reason
    placed: dict[bytes, tuple[str, int, int]] = field(default_factory=dict)  # value -> (topic, partition, offset)
    committed: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)  # consumer -> offsets

    async def inject(self, ctx: Context) -> None:
        system = ctx.system
        self.readers = await consumer_groups_by_topic(system)
        producer = AIOKafkaProducer(bootstrap_servers=system.kafka, acks="all")
        await producer.start()
        try:
            for topic in ALL_TOPICS:
                self.sent[topic] = poison_values(topic, self.tag)
                headers = [("warden-client", b"local-dev")] if topic == REPORTS_RAW else []
                for value in self.sent[topic]:
                    placed = await producer.send_and_wait(
                        system.prefix + topic, value=value,
                        key=f"chaos-poison-{self.tag}".encode(), headers=headers)
                    self.placed[value] = (topic, placed.partition, placed.offset)
        finally:
            await producer.stop()

    async def _read_dead_letters(self, system: System) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka, group_id=None,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(system.prefix + dlq(t), p) for t in DEAD_LETTERED
                          for p in range(system.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while await behind(consumer, ends):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
                        self.dead_letters.setdefault(record.value, {})[
                            headers.get("dlq.consumer", "?")] = headers.get("dlq.reason", "")
        finally:
            await consumer.stop()

    async def _read_commits(self, system: System) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka, client_id="chaos-admin")
        await admin.start()
        try:
            for consumer in {c for readers in self.readers.values() for c in readers}:
                offsets = await admin.list_consumer_group_offsets(
                    f"{system.prefix}warden-{consumer}")
                self.committed[consumer] = {(tp.topic.removeprefix(system.prefix), tp.partition):
                                            meta.offset for tp, meta in offsets.items()}
        finally:
            await admin.close()

    def _skipped(self, value: bytes, consumer: str) -> bool:
        """A well-formed envelope of a type this consumer has no handler for is skipped (it
        never reads the data): settled, once its group has committed past it."""
        topic, partition, offset = self.placed.get(value, ("", -1, -1))
        return self.committed.get(consumer, {}).get((topic, partition), -1) > offset

    async def problems(self, ctx: Context) -> dict[str, list[str]]:
        await asyncio.wait_for(self._read_dead_letters(ctx.system), 30)
        await asyncio.wait_for(self._read_commits(ctx.system), 30)
        missing: dict[str, list[str]] = {}
        for topic, values in self.sent.items():
            if topic not in DEAD_LETTERED:
                continue  # a dead-letter topic of its own (notifications.dlq): nobody reads it
            for index, value in enumerate(values):
                landed = self.dead_letters.get(value, {})
                envelope = index >= 2  # see poison_values: not JSON, no event, then envelopes
                if envelope and self.readers.get(topic) and not landed:
                    # Skipped by each reader: then none handles the type it claims to be.
                    missing.setdefault("poison envelope dead-lettered by no reader", []).append(
                        f"{topic}#{index}")
                for consumer in self.readers.get(topic, []):
                    if consumer not in landed and envelope and self._skipped(value, consumer):
                        continue
                    if consumer not in landed:
                        missing.setdefault("poison record not dead-lettered", []).append(
                            f"{topic}#{index} by {consumer}")
                    elif not landed[consumer].strip():
                        missing.setdefault("dead letter without a reason", []).append(
                            f"{topic}#{index} by {consumer}")
        return missing

    def summary(self) -> dict:
        return {"topics": {t: {"records": len(v), "read_by": self.readers.get(t, [])}
                           for t, v in self.sent.items()},
                "unread_topics": [t for t in self.sent if not self.readers.get(t)]}

    def as_json(self) -> dict:
        return {**super().as_json(), **self.summary()}
