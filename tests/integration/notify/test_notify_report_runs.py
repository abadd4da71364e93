"""Notify takes reports and routed cases in runs (one upsert of the run's reports, one insert of
all their notifications): what it owes each reporter and authority is queued exactly once, as
when they came one by one — decisions that came before their reports included — and a crash in
the middle of a run loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter

import asyncpg
from aiokafka import AIOKafkaProducer

from tests.e2e.harness import free_port, service_env, start_service, stop_service, wait_ready
from tests.integration.notify.conftest import (
    decision_v2_event,
    notifications,
    publish,
    report_event,
    routed_event,
)
from tests.support.apps import eventually, running
from warden.notify.app import create_app
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import LegalReference
from warden.shared.db import asyncpg_dsn


async def produce(kafka: str, topic: str, events: list[CloudEvent]) -> None:
    """All on one key (one partition, in this order), so the consumer gets them as runs."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [await producer.send(topic, event.to_bytes(), key=b"one-subject")
                for event in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _fetch(dsn: str, query: str, *args) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def _order(n: int) -> LegalReference:
    from datetime import UTC, datetime, timedelta

    return LegalReference(issuing_authority=f"Authority {n}", authority_country="DE",
                          order_reference=f"ORD-{n}", order_type="removal_order",
                          deadline=datetime.now(UTC) + timedelta(hours=1))


async def test_a_run_of_reports_tells_each_reporter_and_authority_once(
        make_settings, notify_database, capsys):
    settings = make_settings("http://127.0.0.1:9/unused", delivery_enabled=False)
    dsn = asyncpg_dsn(notify_database)
    users = [report_event("user", reporter_id=f"user-{i}", subject_id="post-runs")
             for i in range(10)]
    orders = [report_event("regulator", reporter_id=f"Authority {i}", legal=_order(i),
                           subject_id="post-runs") for i in range(3)]
    # A decision on the first two reports came before them (the decisions consumer was ahead).
    decision, decided = decision_v2_event(subject=users[0][1].subject,
                                          report_ids=[users[0][1].report_id,
                                                      users[1][1].report_id])
    async with running(create_app(settings)):
        await publish(settings, topics.DECISIONS_RECORDED, decision)

        async def awaited():
            return len(await _fetch(dsn, "SELECT 1 FROM awaited_reports")) == 2

        await eventually(awaited, what="the decision waiting for its two reports")
    # With notify stopped, everything else comes: the consumers get it as runs. One report is
    # sent again under a new event id (a producer that published it twice).
    resent = new_event(type=users[3][0].type, source="/warden/intake",
                       subject=users[3][0].subject, payload=users[3][1])
    reports = [event for event, _ in users + orders] + [resent]
    await produce(settings.kafka_bootstrap, settings.topic(topics.REPORTS_NORMALIZED), reports)
    routed = [routed_event(payload) for _, payload in orders]
    await produce(settings.kafka_bootstrap, settings.topic(topics.CASES_ROUTED), routed)
    capsys.readouterr()
    async with running(create_app(settings)) as client:
        async def all_handled():
            # Each event's inbox row commits with the notifications it queued.
            handled = {r["event_id"] for r in await _fetch(dsn, "SELECT event_id FROM inbox")}
            return handled >= {e.id for e in reports + routed}

        await eventually(all_handled, what="every report and routed case handled")
        log = await notifications(client, settings)
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()
                 if x.startswith("{") and '"notices_queued"' in x]

    assert max(line["events"] for line in lines) > 1, "reports were never queued as a run"
    kinds = Counter(n["notice"] for n in log)
    assert kinds == Counter({"reporter_receipt": 10, "authority_receipt": 3,
                             "reporter_outcome": 2, "statement_of_reasons": 1,
                             None: 1}), kinds  # None: the raw decision event, for subscribers
    receipts = Counter(tuple(n["report_ids"]) for n in log if n["notice"] == "reporter_receipt")
    assert receipts == Counter({(str(p.report_id),): 1 for _, p in users})
    outcomes = sorted(n["recipient"] for n in log if n["notice"] == "reporter_outcome")
    assert outcomes == ["user-0", "user-1"]
    assert all(n["decision_id"] == str(decided.decision_id) for n in log
               if n["notice"] == "reporter_outcome")
    # The authority is told once its order is routed, by name, once per order.
    told = sorted(n["recipient"] for n in log if n["notice"] == "authority_receipt")
    assert told == ["Authority 0", "Authority 1", "Authority 2"]
    assert not await _fetch(dsn, "SELECT 1 FROM awaited_reports")


async def test_notify_killed_in_the_middle_of_a_run_of_reports_loses_and_doubles_nothing(
        notify_database, infra, topic_prefix, tmp_path):
    """Runs of 8: the first commits, the second waits on a row another transaction holds,
    and the process is killed there (SIGKILL: nothing is released by a shutdown hook). The
    restarted process queues every receipt once."""
    dsn = asyncpg_dsn(notify_database)
    reports = [report_event("user", reporter_id=f"user-{i}", subject_id="post-crash")
               for i in range(20)]
    held = reports[11][1].report_id
    await produce(infra.kafka, f"{topic_prefix}{topics.REPORTS_NORMALIZED}",
                  [event for event, _ in reports])
    port = free_port()
    env = service_env("notify", database_url=notify_database, port=port, kafka=infra.kafka,
                      topic_prefix=topic_prefix, receiver_url="http://127.0.0.1:9/unused")
    env.update({"WARDEN_NOTIFY_DELIVERY_ENABLED": "false",
                "WARDEN_NOTIFY_CONSUMER_BATCH_SIZE": "8"})
    database = notify_database.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO known_reports (report_id) VALUES ($1)", held)
        holder = conn.transaction()
        await holder.start()
        await conn.execute("SELECT 1 FROM known_reports WHERE report_id = $1 FOR UPDATE", held)
        (tmp_path / "first").mkdir()
        first = start_service("notify", env, port, tmp_path / "first")
        try:
            async def stuck_on_the_held_row():
                waiting = await _fetch(dsn, "SELECT count(*) AS n FROM pg_stat_activity WHERE "
                                       "datname = $1 AND wait_event_type = 'Lock'", database)
                return waiting[0]["n"] > 0

            await eventually(stuck_on_the_held_row, timeout=60,
                             what="a run of reports waiting on the held row")
            before = await _fetch(dsn, "SELECT count(*) AS n FROM notifications")
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
        finally:
            stop_service(first)
        await holder.rollback()
    finally:
        await conn.close()
    assert 0 < before[0]["n"] < len(reports), "the kill did not come in the middle"

    (tmp_path / "second").mkdir()
    second = start_service("notify", env, port, tmp_path / "second")
    try:
        await wait_ready(second)

        async def all_queued():
            rows = await _fetch(dsn, "SELECT report_ids, notice FROM notifications")
            return rows if len(rows) >= len(reports) else None

        await eventually(all_queued, timeout=60, what="every receipt queued after the restart")
        inbox = await _fetch(dsn, "SELECT event_id FROM inbox")
    finally:
        stop_service(second)
    rows = await _fetch(dsn, "SELECT report_ids, notice FROM notifications")
    assert Counter((tuple(json.loads(r["report_ids"])), r["notice"]) for r in rows) == Counter(
        {((str(p.report_id),), "reporter_receipt"): 1 for _, p in reports})
    handled = Counter(r["event_id"] for r in inbox)
    assert set(handled) >= {event.id for event, _ in reports}
    assert all(n == 1 for n in handled.values())
    known = await _fetch(dsn, "SELECT report_id FROM known_reports")
    assert {r["report_id"] for r in known} == {p.report_id for _, p in reports}


async def test_a_run_of_decisions_tells_everyone_once_and_waits_for_reports_not_seen(
        make_settings, notify_database, capsys):
    settings = make_settings("http://127.0.0.1:9/unused", delivery_enabled=False)
    dsn = asyncpg_dsn(notify_database)
    reports = [report_event("user", reporter_id=f"user-{i}", subject_id=f"post-d{i % 3}")
               for i in range(8)]
    seen, late = reports[:6], reports[6:]
    # Six decisions, two reports each (one report in two decisions: an appeal's reversal
    # names the same reports); the last one names the two reports notify has not seen yet.
    pairs = [(0, 1), (2, 3), (4, 5), (1, 0), (3, 5), (6, 7)]
    decisions = [decision_v2_event(subject=reports[a][1].subject,
                                   report_ids=[reports[a][1].report_id,
                                               reports[b][1].report_id])
                 for a, b in pairs]
    await produce(settings.kafka_bootstrap, settings.topic(topics.REPORTS_NORMALIZED),
                  [event for event, _ in seen])
    await produce(settings.kafka_bootstrap, settings.topic(topics.DECISIONS_RECORDED),
                  [event for event, _ in decisions])
    capsys.readouterr()
    async with running(create_app(settings)) as client:
        async def handled(events):
            ids = {r["event_id"] for r in await _fetch(dsn, "SELECT event_id FROM inbox")}
            return ids >= {e.id for e in events}

        await eventually(lambda: handled([e for e, _ in seen + decisions]),
                         what="the reports and the decisions handled")
        awaited = await _fetch(dsn, "SELECT report_id FROM awaited_reports")
        await produce(settings.kafka_bootstrap, settings.topic(topics.REPORTS_NORMALIZED),
                      [event for event, _ in late])
        await eventually(lambda: handled([e for e, _ in late]), what="the late reports")
        log = await notifications(client, settings)
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()
                 if x.startswith("{") and '"notices_queued"' in x]

    assert max(line["events"] for line in lines if line["type"] == decisions[0][0].type) > 1, \
        "decisions were never queued as a run"
    assert sorted(r["report_id"] for r in awaited) == sorted(p.report_id for _, p in late)
    told = Counter((n["decision_id"], n["recipient"]) for n in log
                   if n["notice"] == "reporter_outcome")
    expected = Counter({(str(d.decision_id), f"user-{i}"): 1
                        for (_, d), pair in zip(decisions, pairs) for i in pair})
    assert told == expected
    per_decision = Counter(n["decision_id"] for n in log if n["notice"] in
                           ("statement_of_reasons", None))
    assert per_decision == Counter({str(d.decision_id): 2 for _, d in decisions})
