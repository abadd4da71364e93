"""How often a consumer commits its offsets and how its records gather into rounds, against
real Kafka and PostgreSQL: offsets are committed together (at most every
``consumer_commit_interval_s``), yet nothing handled is handled again by the partition's next
owner, a dead-lettered record is committed at once, and a background consumer lets records
gather for ``background_linger_s``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from tests.support.apps import eventually
from tests.support.bus import bus_env
from tests.support.kafka import produce, produce_event
from warden.shared.bus.consumer import ConsumerRunner, Delivery
from warden.shared.bus.kafka import create_producer
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import CASE_SLA_V1, CaseSlaV1

TOPIC = topics.CASES_SLA


def _event(subject: str):
    now = datetime.now(UTC)
    return new_event(type=CASE_SLA_V1, source="/test", subject=subject, payload=CaseSlaV1(
        case_id=uuid.uuid4(), queue="general", due_at=now, state="overdue", observed_at=now))


@pytest.fixture
async def env(infra, topic_prefix, make_database):
    """Settings that commit at most once a minute (far longer than any test here waits), a
    database with an ``effects`` table, and a producer for the dead-letter topic."""
    async with bus_env(infra, topic_prefix, make_database, consumer_commit_interval_s=60,
                       background_linger_s=1.0) as env:
        async with env[1].begin() as conn:
            await conn.execute(sa.text("CREATE TABLE effects (seq serial, "
                                       "event_id text NOT NULL, consumer text NOT NULL)"))
        yield env


def _runner(settings, sessions, producer, *, tag: str = "first", background: bool = False,
            runs: list[int] | None = None) -> ConsumerRunner:
    """A consumer of ``TOPIC`` that writes each event's effect with its ``tag`` and, when
    given ``runs``, appends the size of each run its handler is called with."""
    async def record(session, deliveries: list[Delivery]) -> None:
        if runs is not None:
            runs.append(len(deliveries))
        for delivery in deliveries:
            await session.execute(sa.text("INSERT INTO effects (event_id, consumer) "
                                          "VALUES (:id, :tag)"),
                                  {"id": delivery.event.id, "tag": tag})

    return ConsumerRunner(name="rounds", topics=[TOPIC], handlers={},
                          batch_handlers={CASE_SLA_V1: record}, settings=settings,
                          sessions=sessions, producer=producer, background=background)


@asynccontextmanager
async def _running(env, **options) -> AsyncIterator[ConsumerRunner]:
    """A started ``_runner`` (``options`` as there), stopped on the way out."""
    settings, _, sessions, producer = env
    runner = _runner(settings, sessions, producer, **options)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def _effects(engine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(
            sa.text("SELECT event_id, consumer FROM effects ORDER BY seq"))]


async def _handled(engine, count: int) -> None:
    async def enough() -> bool:
        return len(await _effects(engine)) >= count
    await eventually(enough, what=f"{count} effects")


async def _committed(infra, runner: ConsumerRunner, topic: str) -> int:
    """The group's committed offsets on ``topic``, summed over its partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            f"{runner.settings.group_id}.{runner.name}")
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items()
               if tp.topic == topic and meta.offset >= 0)


def _duplicates(settings, topic: str) -> float:
    return REGISTRY.get_sample_value("warden_events_consumed_total", {
        "service": settings.service_name, "topic": topic, "outcome": "duplicate"}) or 0.0


async def test_offsets_of_records_handled_one_by_one_are_committed_together_and_at_stop(
        env, infra):
    settings, engine, _, _ = env
    topic = settings.topic(TOPIC)
    async with _running(env) as runner:
        for n in range(1, 4):
            await produce_event(infra.kafka, topic, _event("s"), key="s")
            await _handled(engine, n)
        # Handled, and the interval (a minute) has not passed: nothing committed yet.
        assert await _committed(infra, runner, topic) == 0
    assert await _committed(infra, runner, topic) == 3


async def test_partitions_a_rebalance_moves_are_committed_first_and_never_handled_twice(
        env, infra):
    """A second instance joins the group: the first commits what it settled on the partitions
    it gives up, so the second starts after them (no record read again, not even one the
    inbox would skip)."""
    settings, engine, sessions, producer = env
    topic = settings.topic(TOPIC)
    first = _runner(settings, sessions, producer, tag="first")
    second = _runner(settings, sessions, producer, tag="second")
    subjects = [f"subject-{i}" for i in range(12)]  # spread over the topic's partitions
    await first.start()
    try:
        for subject in subjects:
            await produce_event(infra.kafka, topic, _event(subject), key=subject)
        await _handled(engine, len(subjects))
        duplicates_before = _duplicates(settings, topic)
        await second.start()
        try:
            await eventually(lambda: _true(first.assigned and second.assigned),
                             what="both instances to hold partitions")
            for subject in subjects:  # one more event per subject, after the rebalance
                await produce_event(infra.kafka, topic, _event(subject), key=subject)
            await _handled(engine, 2 * len(subjects))
        finally:
            await second.stop()
    finally:
        await first.stop()
    effects = await _effects(engine)
    assert len(effects) == 2 * len(subjects)
    assert {tag for _, tag in effects[len(subjects):]} == {"first", "second"}
    assert _duplicates(settings, topic) == duplicates_before


async def _true(value: bool) -> bool:
    return value


async def test_a_dead_lettered_record_is_committed_without_waiting_for_the_interval(
        env, infra):
    settings = env[0]
    topic = settings.topic(TOPIC)
    async with _running(env) as runner:
        await produce(infra.kafka, topic, b"{not json", key=b"k")
        async def committed() -> bool:
            return await _committed(infra, runner, topic) == 1
        await eventually(committed, what="the dead-lettered record's offset committed")


async def test_a_background_consumer_handles_records_arriving_within_its_linger_together(
        env, infra):
    """Ten events 30 ms apart (≈ 0.3 s) reach a background consumer whose linger is 1 s in
    at most two runs (a linger may end in the middle of them), not one run each."""
    settings, engine, _, _ = env
    topic = settings.topic(TOPIC)
    runs: list[int] = []
    sender = create_producer(infra.kafka, "test-spaced")
    async with _running(env, background=True, runs=runs) as runner:
        await sender.start()
        try:
            await eventually(lambda: _true(runner.assigned), what="the consumer's partitions")
            for _ in range(10):
                await sender.send_and_wait(topic, _event("s").to_bytes(), key=b"s")
                await asyncio.sleep(0.03)  # the load's shape, not a wait for an outcome
            await _handled(engine, 10)
        finally:
            await sender.stop()
    assert sum(runs) == 10
    assert len(runs) <= 2, runs
