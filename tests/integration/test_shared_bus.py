"""The messaging guarantees every service relies on, against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
import sqlalchemy as sa
import structlog.testing
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from tests.support.apps import eventually
from tests.support.bus import bus_env
from tests.support.kafka import (
    produce,
    produce_event,
    produce_events,
    read_events,
    read_records,
)
from warden.shared.bus.consumer import records as consumer_module
from warden.shared.bus.consumer import ConsumerRunner, Delivery
from warden.shared.bus.dlq import letter_filter, replay_dead_letters
from warden.shared.bus.kafka import Publisher, create_producer, ensure_topics
from warden.shared.bus.outbox import NOTIFY_CHANNEL, Outbox, OutboxRelay
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import CASE_SLA_V1, CaseSlaV1
from warden.shared.db import asyncpg_dsn
from warden.shared.errors import TransientError


def sla_payload() -> CaseSlaV1:
    now = datetime.now(UTC)
    return CaseSlaV1(case_id=uuid.uuid4(), queue="general", due_at=now, state="overdue",
                     observed_at=now)


async def emit_each_committed(sessions, outbox: Outbox, count: int, *, key: str) -> list[str]:
    """``count`` events of ``key``, each in a transaction of its own: their ids in order."""
    committed = []
    for _ in range(count):
        async with sessions() as session, session.begin():
            event = await outbox.emit(session, type=CASE_SLA_V1, key=key, payload=sla_payload())
            committed.append(event.id)
    return committed


@pytest.fixture
async def env(infra, topic_prefix, make_database):
    async with bus_env(infra, topic_prefix, make_database, outbox_poll_interval_s=30,
                       consumer_backoff_initial_s=0.05, consumer_max_attempts=4) as env:
        yield env


async def test_outbox_publishes_each_committed_event_exactly_once_and_promptly(env, infra):
    settings, engine, sessions, producer = env
    relay = OutboxRelay(engine, Publisher(infra.kafka, "test-relay"), settings)
    await relay.start()
    outbox = Outbox(settings)
    try:
        committed = await emit_each_committed(sessions, outbox, 20, key="subject-1")
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await outbox.emit(session, type=CASE_SLA_V1, key="subject-1", payload=sla_payload())
                raise RuntimeError("the state change failed, so its event must not leave")
        # The poll interval is 30 s: arriving well before proves LISTEN/NOTIFY woke the relay.
        events = await read_events(infra.kafka, settings.topic(topics.CASES_SLA), expect=20,
                                   timeout=10, settle=3)
    finally:
        await relay.stop()
    assert [e.id for e in events] == committed
    async with engine.connect() as conn:
        unpublished = await conn.scalar(sa.text(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    assert unpublished == 0


async def _published_by_a_relay(engine, infra, settings, read, *, expect: int) -> list:
    """What a relay started now publishes on ``cases.sla``, as ``read`` reads it."""
    relay = OutboxRelay(engine, Publisher(infra.kafka, "test-relay"), settings)
    await relay.start()
    try:
        return await read(infra.kafka, settings.topic(topics.CASES_SLA), expect=expect,
                          timeout=15)
    finally:
        await relay.stop()


async def test_events_staged_together_are_published_in_the_order_given_with_their_headers(
        env, infra):
    """``stage_many`` writes a batch in one statement: each key's events still leave in the
    order they were staged, each with its CloudEvent headers."""
    settings, engine, sessions, producer = env
    outbox = Outbox(settings)
    staged = [(outbox.event(type=CASE_SLA_V1, key=f"subject-{n % 3}", payload=sla_payload()),
               f"subject-{n % 3}") for n in range(30)]
    async with sessions() as session, session.begin():
        await outbox.stage_many(session, staged)
    records = await _published_by_a_relay(engine, infra, settings, read_records, expect=30)
    for key in ("subject-0", "subject-1", "subject-2"):
        sent = [event.id for event, k in staged if k == key]
        got = [dict(r.headers)["ce_id"].decode() for r in records if r.key == key.encode()]
        assert got == sent
    assert {dict(r.headers)["ce_type"] for r in records} == {CASE_SLA_V1.encode()}


async def test_a_relay_in_the_same_process_is_woken_after_commit_without_a_notify(env, infra):
    """A service's own relay is woken in-process once the transaction commits: no NOTIFY (whose
    commits PostgreSQL serialises cluster-wide), and still well before the 30 s poll."""
    settings, engine, sessions, producer = env
    relay = OutboxRelay(engine, Publisher(infra.kafka, "test-relay"), settings)
    await relay.start()
    outbox = Outbox(settings)
    outbox.wake.in_process(relay.wake)
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.append(args[2]))
    try:
        committed = await emit_each_committed(sessions, outbox, 5, key="subject-2")
        events = await read_events(infra.kafka, settings.topic(topics.CASES_SLA), expect=5,
                                   timeout=10, settle=1)
    finally:
        await listener.close()
        await relay.stop()
    assert [e.id for e in events] == committed
    assert heard == [], "the services' transactions send no NOTIFY"


async def test_relay_started_later_publishes_the_backlog_in_order(env, infra):
    settings, engine, sessions, producer = env
    outbox = Outbox(settings)
    staged = []
    for i in range(5):
        async with sessions() as session, session.begin():
            staged.append((await outbox.emit(session, type=CASE_SLA_V1, key=f"s{i}",
                                             payload=sla_payload())).id)
    events = await _published_by_a_relay(engine, infra, settings, read_events, expect=5)
    assert sorted(e.id for e in events) == sorted(staged)


async def _effects_table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE effects (event_id text NOT NULL)"))


async def _effects(engine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(sa.text("SELECT event_id FROM effects"))).all())


def _runner(settings, sessions, producer, handler) -> ConsumerRunner:
    return ConsumerRunner(name="test", topics=[topics.CASES_SLA], handlers={CASE_SLA_V1: handler},
                          settings=settings, sessions=sessions, producer=producer)


async def _record_effect(delivery: Delivery) -> None:
    await delivery.session.execute(sa.text("INSERT INTO effects VALUES (:id)"),
                                   {"id": delivery.event.id})


async def test_transient_failure_is_retried_and_processed_once(env, infra):
    settings, engine, sessions, producer = env
    await _effects_table(engine)
    calls = {"n": 0}

    async def flaky(delivery: Delivery) -> None:
        calls["n"] += 1
        await _record_effect(delivery)  # written, then rolled back by the failure below
        if calls["n"] < 3:
            raise TransientError("downstream briefly unavailable")

    runner = _runner(settings, sessions, producer, flaky)
    event = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    await produce_event(infra.kafka, settings.topic(topics.CASES_SLA), event, key="s")
    await runner.start()
    try:
        await eventually(lambda: _effects(engine), what="the effect of the retried event")
        # Settled means committed: no further attempt can follow.
        await _wait_committed(infra, runner, settings.topic(topics.CASES_SLA), 1)
    finally:
        await runner.stop()
    assert calls["n"] == 3
    assert await _effects(engine) == [event.id]


async def test_unparseable_record_goes_to_dlq_with_reason_and_consumer_goes_on(env, infra):
    settings, engine, sessions, producer = env
    await _effects_table(engine)
    topic = settings.topic(topics.CASES_SLA)
    await produce(infra.kafka, topic, b"{this is not json", key=b"s")
    good = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    await produce_event(infra.kafka, topic, good, key="s")
    runner = _runner(settings, sessions, producer, _record_effect)
    await runner.start()
    try:
        await eventually(lambda: _effects(engine), what="the valid event after the bad one")
        dead = await read_records(infra.kafka, topics.dlq(topic), expect=1, timeout=15)
    finally:
        await runner.stop()
    assert await _effects(engine) == [good.id]
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b"{this is not json"
    assert "not JSON" in headers["dlq.reason"]
    assert headers["dlq.original.topic"] == topic
    assert headers["dlq.error.type"] == "InvalidMessage"


async def test_handler_that_keeps_failing_ends_on_dlq_after_max_attempts(env, infra):
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)

    async def broken(delivery: Delivery) -> None:
        raise ValueError("bug in handler")

    event = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    await produce_event(infra.kafka, topic, event, key="s")
    runner = _runner(settings, sessions, producer, broken)
    await runner.start()
    try:
        dead = await read_records(infra.kafka, topics.dlq(topic), expect=1, timeout=20)
    finally:
        await runner.stop()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["dlq.attempts"] == str(settings.consumer_max_attempts)
    assert "bug in handler" in headers["dlq.reason"]


async def test_redelivered_event_changes_nothing(env, infra):
    settings, engine, sessions, producer = env
    await _effects_table(engine)
    topic = settings.topic(topics.CASES_SLA)
    event = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    marker = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    for e in (event, event, event, marker):
        await produce_event(infra.kafka, topic, e, key="s")
    runner = _runner(settings, sessions, producer, _record_effect)
    await runner.start()
    try:
        await eventually(lambda: _has(engine, marker.id), what="the marker event")
    finally:
        await runner.stop()
    # A second consumer in a fresh group re-reads everything: still no second effect.
    settings2 = settings.model_copy(update={"consumer_group": f"{settings.topic_prefix}other"})
    runner2 = _runner(settings2, sessions, producer, _record_effect)
    await runner2.start()
    try:
        # It got the partitions and went through all four records (committed past them).
        await _wait_committed(infra, runner2, topic, 4)
    finally:
        await runner2.stop()
    assert sorted(await _effects(engine)) == sorted([event.id, marker.id])


async def _has(engine, event_id: str) -> bool:
    return event_id in await _effects(engine)


async def _effects_with_transactions(engine) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(sa.text(
            "SELECT event_id, tx FROM effects ORDER BY seq"))).all()]


async def _record_effect_and_transaction(delivery: Delivery) -> None:
    await delivery.session.execute(
        sa.text("INSERT INTO effects (event_id, tx) VALUES (:id, txid_current())"),
        {"id": delivery.event.id})


async def _backlog_of(engine, infra, topic: str, count: int,
                      partitions: tuple[int, ...] = (0,)) -> dict[int, list]:
    """An effects table that records each effect's transaction, and ``count`` events waiting
    on each of these partitions of ``topic`` before any consumer starts (per partition)."""
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "CREATE TABLE effects (seq serial, event_id text NOT NULL, tx bigint NOT NULL)"))
    backlog = {p: [new_event(type=CASE_SLA_V1, source="/test", subject=f"s{p}",
                             payload=sla_payload()) for _ in range(count)] for p in partitions}
    producer = create_producer(infra.kafka, "test-backlog")
    await producer.start()
    try:
        for partition, events in backlog.items():
            for event in events:
                await producer.send(topic, event.to_bytes(), key=f"s{partition}".encode(),
                                    partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    return backlog


async def test_a_backlog_is_handled_in_few_transactions_and_in_order(env, infra):
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)
    events = (await _backlog_of(engine, infra, topic, 60))[0]
    runner = _runner(settings, sessions, producer, _record_effect_and_transaction)
    await runner.start()
    try:
        await eventually(lambda: _has(engine, events[-1].id), what="the last event")
    finally:
        await runner.stop()
    effects = await _effects_with_transactions(engine)
    assert [event_id for event_id, _ in effects] == [e.id for e in events]
    assert len({tx for _, tx in effects}) < len(events) / 4  # batched, not one commit each


async def test_a_fetch_of_several_partitions_shares_transactions_and_keeps_each_order(
        env, infra):
    """The partitions of one fetch are settled in the same runs, one after the other: fewer
    transactions than partitions with a backlog, and each partition's events in its order."""
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)
    backlog = await _backlog_of(engine, infra, topic, 20, partitions=(0, 1, 2))
    runner = _runner(settings, sessions, producer, _record_effect_and_transaction)
    await runner.start()
    try:
        async def all_handled() -> bool:
            return len(await _effects_with_transactions(engine)) >= 60
        await eventually(all_handled, what="the three backlogs")
    finally:
        await runner.stop()
    effects = await _effects_with_transactions(engine)
    partition_of = {e.id: p for p, events in backlog.items() for e in events}
    for partition, events in backlog.items():
        assert [e for e, _ in effects if partition_of[e] == partition] == [e.id for e in events]
    partitions_per_transaction: dict[int, set[int]] = {}
    for event_id, tx in effects:
        partitions_per_transaction.setdefault(tx, set()).add(partition_of[event_id])
    assert max(map(len, partitions_per_transaction.values())) > 1
    assert len(partitions_per_transaction) < len(backlog)


async def test_events_the_handler_does_not_want_are_settled_without_touching_the_database(
        env, infra):
    """``wants`` says which payloads a handler acts on: the others are committed past, with no
    transaction and no inbox row, and the wanted ones are handled once each, in order, in
    runs, even when the unwanted ones sit between them and last in the partition."""
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)
    await _effects_table(engine)
    events = [new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=CaseSlaV1(
        **{**sla_payload().model_dump(), "state": "overdue" if n % 3 == 0 else "at_risk"}))
        for n in range(12)]
    await produce_events(infra.kafka, topic, events, key="s")
    wanted = [e.id for e in events if e.payload().state == "overdue"]
    handled_runs: list[int] = []

    async def record_run(session, deliveries: list[Delivery]) -> None:
        handled_runs.append(len(deliveries))
        for delivery in deliveries:
            await _record_effect(delivery)

    runner = ConsumerRunner(name="wants", topics=[topics.CASES_SLA], handlers={},
                            batch_handlers={CASE_SLA_V1: record_run},
                            wants={CASE_SLA_V1: lambda sla: sla.state == "overdue"},
                            settings=settings, sessions=sessions, producer=producer)
    await runner.start()
    try:
        await _wait_committed(infra, runner, topic, len(events))
    finally:
        await runner.stop()
    assert await _effects(engine) == wanted
    async with engine.connect() as conn:
        inbox = set((await conn.scalars(sa.text(
            "SELECT event_id FROM inbox WHERE consumer = :c"), {"c": runner.consumer_id})).all())
    assert inbox == set(wanted)
    assert sum(handled_runs) == len(wanted) and len(handled_runs) < len(wanted)


async def test_one_failing_record_in_a_batch_costs_the_others_nothing(env, infra):
    """The batch is rolled back and its records handled one by one: the good ones take effect
    once each, in order, and only the bad one goes to the DLQ."""
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)
    events = (await _backlog_of(engine, infra, topic, 20))[0]
    poison = events[7]
    attempts = {"poison": 0}

    async def handler(delivery: Delivery) -> None:
        await _record_effect_and_transaction(delivery)
        if delivery.event.id == poison.id:
            attempts["poison"] += 1
            raise ValueError("cannot handle this one")

    runner = _runner(settings, sessions, producer, handler)
    await runner.start()
    try:
        await eventually(lambda: _has(engine, events[-1].id), what="the last event")
        dead = await read_records(infra.kafka, topics.dlq(topic), expect=1, timeout=20,
                                  settle=1)
    finally:
        await runner.stop()
    effects = await _effects_with_transactions(engine)
    assert [event_id for event_id, _ in effects] == [e.id for e in events if e is not poison]
    assert len(dead) == 1 and dead[0].value == poison.to_bytes()
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert "cannot handle this one" in headers["dlq.reason"]
    # Its own attempts, plus the one in the batch that was rolled back because of it.
    assert attempts["poison"] in (settings.consumer_max_attempts,
                                  settings.consumer_max_attempts + 1)


async def test_an_event_of_unknown_type_is_skipped_counted_and_warned_about(env, infra,
                                                                          monkeypatch):
    settings, engine, sessions, producer = env
    await _effects_table(engine)
    topic = settings.topic(topics.CASES_SLA)
    newer = new_event(type="warden.case.sla.v9", source="/newer", subject="s",
                      payload=sla_payload())
    good = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
    await produce_event(infra.kafka, topic, newer, key="s")
    await produce_event(infra.kafka, topic, good, key="s")
    runner = _runner(settings, sessions, producer, _record_effect)

    def skipped() -> float:
        return REGISTRY.get_sample_value("warden_unknown_events_total", {
            "service": settings.service_name, "topic": topic,
            "type": "warden.case.sla.v9"}) or 0.0

    with structlog.testing.capture_logs() as logs:
        # A logger that an earlier test already used is cached with the service's processors
        # and would bypass the capture: give the consumer module a fresh one inside it.
        monkeypatch.setattr(consumer_module, "log", structlog.get_logger(consumer_module.__name__))
        await runner.start()
        try:
            await eventually(lambda: _has(engine, good.id), what="the event after the unknown one")
        finally:
            await runner.stop()
    assert skipped() == 1
    assert await _effects(engine) == [good.id]
    warnings = [entry for entry in logs if entry["event"] == "event_of_unknown_type_skipped"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["type"] == "warden.case.sla.v9"


ORIGINAL_TIME_MS = 1_700_000_000_000  # 2023-11-14: far from now, so a re-stamp would show


async def _produce_at(bootstrap: str, topic: str, value: bytes, key: bytes,
                      headers: list[tuple[str, bytes]]) -> None:
    producer = create_producer(bootstrap, "test-timestamped")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers,
                                     timestamp_ms=ORIGINAL_TIME_MS)
    finally:
        await producer.stop()


async def test_dead_letter_and_its_replay_keep_key_headers_and_original_timestamp(env, infra):
    settings, engine, sessions, producer = env
    topic = settings.topic(topics.CASES_SLA)
    await _produce_at(infra.kafka, topic, b"{not json", b"subject-7",
                      [("traceparent", b"00-abc-def-01"), ("warden-client", b"partner-x")])
    runner = _runner(settings, sessions, producer, _record_effect)
    await runner.start()
    try:
        (dead,) = await read_records(infra.kafka, topics.dlq(topic), expect=1, timeout=20)
    finally:
        await runner.stop()
    assert dead.key == b"subject-7" and dead.timestamp == ORIGINAL_TIME_MS
    assert dead.headers[:2] == (("traceparent", b"00-abc-def-01"), ("warden-client", b"partner-x"))

    bar = {"total": None, "done": 0}  # what the CLI's progress bar is told
    dry = await replay_dead_letters(
        settings, topics.CASES_SLA, 10, "test-replay", dry_run=True,
        on_start=lambda total: bar.update(total=total),
        on_progress=lambda n: bar.update(done=bar["done"] + n))
    assert dry.replayed == 1 and dry.letters[0]["key"] == "subject-7"
    assert bar == {"total": 1, "done": 1}
    rejected = await replay_dead_letters(settings, topics.CASES_SLA, 10, "test-replay-other",
                                         where=letter_filter(error_type="TransientError"))
    assert (rejected.replayed, rejected.skipped) == (0, 1)
    done = await replay_dead_letters(settings, topics.CASES_SLA, 10, "test-replay",
                                     where=letter_filter(reason="not JSON"))
    assert done.replayed == 1
    records = await read_records(infra.kafka, topic, expect=2, timeout=15, settle=1)
    assert len(records) == 2, "the dry run and the rejected letter must send nothing"
    replayed = records[1]
    assert (replayed.value, replayed.key, replayed.timestamp) == (
        b"{not json", b"subject-7", ORIGINAL_TIME_MS)
    assert list(replayed.headers) == [("traceparent", b"00-abc-def-01"),
                                      ("warden-client", b"partner-x")]


async def test_a_record_is_not_committed_until_its_dead_letter_is_acknowledged(env, infra):
    """The DLQ topic is missing: the poison record stays uncommitted (and the partition
    waits) until the DLQ can take it; then it is there, and only then committed."""
    settings, engine, sessions, producer = env
    await _effects_table(engine)
    topic = settings.topic(topics.CASES_SLA)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        await admin.delete_topics([topics.dlq(topic)])
        await eventually(lambda: _missing(admin, topics.dlq(topic)), what="the DLQ to be gone")
        await produce(infra.kafka, topic, b"{poison", key=b"s")
        good = new_event(type=CASE_SLA_V1, source="/test", subject="s", payload=sla_payload())
        await produce_event(infra.kafka, topic, good, key="s")
        runner = _runner(settings, sessions, producer, _record_effect)
        failures_before = _dlq_send_failures(settings, topic)
        await runner.start()
        try:
            await eventually(lambda: _true(_dlq_send_failures(settings, topic) > failures_before),
                             timeout=90, what="a failed DLQ send")
            assert await _committed(admin, runner, topic) is None
            assert await _effects(engine) == []  # the partition waits behind it
            await ensure_topics(infra.kafka, [topics.dlq(topic)], 3, 1)
            await eventually(lambda: _has(engine, good.id), timeout=90,
                             what="the next record once the DLQ took the poison one")
            dead = await read_records(infra.kafka, topics.dlq(topic), expect=1, timeout=15)
        finally:
            await runner.stop()
        assert [r.value for r in dead] == [b"{poison"]
    finally:
        await admin.close()


async def _true(value: bool) -> bool:
    return value


async def _missing(admin, name: str) -> bool:
    return name not in await admin.list_topics()


def _dlq_send_failures(settings, topic: str) -> float:
    return REGISTRY.get_sample_value("warden_dlq_send_failures_total", {
        "service": settings.service_name, "topic": topics.dlq(topic)}) or 0.0


async def _committed(admin, runner: ConsumerRunner, topic: str) -> int | None:
    offsets = await admin.list_consumer_group_offsets(
        f"{runner.settings.group_id}.{runner.name}")
    committed = [meta.offset for tp, meta in offsets.items() if tp.topic == topic
                 and meta.offset >= 0]
    return max(committed) if committed else None


async def _wait_committed(infra, runner: ConsumerRunner, topic: str, offset: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        async def reached() -> bool:
            return (await _committed(admin, runner, topic) or 0) >= offset
        await eventually(reached, timeout=30, what=f"{runner.consumer_id} to commit {offset}")
    finally:
        await admin.close()


async def staged_alone_or_in_a_batch(outbox: Outbox, session, key: str, how: str):
    if how == "alone":
        return await outbox.emit(session, type=CASE_SLA_V1, key=key, payload=sla_payload())
    event = outbox.event(type=CASE_SLA_V1, key=key, payload=sla_payload())
    await outbox.stage_many(session, [(event, key)])
    return event


@pytest.mark.parametrize("how", ["alone", "in_a_batch"])
async def test_events_of_one_key_are_published_in_commit_order(env, infra, how):
    """Transaction A stages an event first, B stages one of the same key later but commits
    first: what is published must follow the commits, not the inserts (``stage`` and
    ``stage_many`` both take the key's lock before the row draws its number)."""
    settings, engine, sessions, producer = env
    outbox = Outbox(settings)
    commits: list[str] = []
    async with sessions() as session_a:
        transaction_a = await session_a.begin()
        event_a = await staged_alone_or_in_a_batch(outbox, session_a, "subject-9", how)
        pid_a = await session_a.scalar(sa.text("SELECT pg_backend_pid()"))

        async def transaction_b() -> None:
            async with sessions() as session_b, session_b.begin():
                event_b = await staged_alone_or_in_a_batch(outbox, session_b, "subject-9", how)
            commits.append(event_b.id)

        b = asyncio.create_task(transaction_b())

        async def b_committed_or_waits_for_a() -> bool:
            if b.done():
                return True
            async with engine.connect() as conn:
                return bool(await conn.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND :a = ANY(pg_blocking_pids(pid))"), {"a": pid_a}))
        await eventually(b_committed_or_waits_for_a, what="B to commit or wait for A")
        await transaction_a.commit()
        commits.append(event_a.id)
    await b
    relay = OutboxRelay(engine, Publisher(infra.kafka, "test-relay"), settings)
    await relay.start()
    try:
        events = await read_events(infra.kafka, settings.topic(topics.CASES_SLA), expect=2,
                                   timeout=15, settle=1)
    finally:
        await relay.stop()
    assert [e.id for e in events] == commits


async def test_a_relay_publishes_nothing_while_another_relay_of_its_database_holds_the_lock(
        env, infra):
    """Replicas share one outbox: one relay publishes at a time (per-key order), the others
    read nothing until it lets go."""
    from warden.shared.bus.outbox import RELAY_LOCK_KEY

    settings, engine, sessions, producer = env
    outbox = Outbox(settings)
    async with sessions() as session, session.begin():
        staged = await outbox.emit(session, type=CASE_SLA_V1, key="subject-3",
                                   payload=sla_payload())
    relay = OutboxRelay(engine, Publisher(infra.kafka, "test-relay"), settings)
    async with engine.connect() as other_replica:
        other = await other_replica.begin()
        await other_replica.execute(sa.select(sa.func.pg_advisory_xact_lock(RELAY_LOCK_KEY)))
        assert await relay.publish_batch() == 0
        await other.rollback()
    try:
        assert await relay.publish_batch() == 1
        [event] = await read_events(infra.kafka, settings.topic(topics.CASES_SLA), expect=1,
                                    timeout=15, settle=1)
    finally:
        await relay.stop()
    assert event.id == staged.id
