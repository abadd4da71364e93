"""Routing a run of reports together (set-based statements in one transaction) keeps what
routing them one by one guarantees: a failure or a crash in the middle of a run loses no
report, doubles none, and each subject's cases.routed events keep the order of its reports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections import defaultdict

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from aiokafka import AIOKafkaProducer

from tests.e2e.harness import free_port, service_env, start_service, wait_ready
from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from tests.support.kafka import read_records
from tests.support.plans import rows_read
from warden.routing import domain, report_store
from warden.routing.models import OPEN, REVIEW
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import CASE_ROUTED_V1, REPORT_NORMALIZED_V1


def reports_on(subjects: int, per_subject: int):
    """Reports interleaved across subjects (each subject's reports in order), some reporters
    reporting twice."""
    names = [f"post-{uuid.uuid4().hex[:8]}" for _ in range(subjects)]
    return [make_report(subject_id=names[i % subjects], reporter_id=f"r{i % 7}")
            for i in range(subjects * per_subject)]


async def produce_reports(kafka: str, topic: str, reports) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [await producer.send(topic, key=r.subject.id.encode(), value=new_event(
            type=REPORT_NORMALIZED_V1, source="/tests", subject=r.subject.id,
            payload=r).to_bytes()) for r in reports]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def assert_each_report_once_in_order(dsn: str, reports, events: list[CloudEvent]) -> None:
    """Every report in exactly one case, one case.routed event per report, and per case the
    events (in seq order in the outbox, in offset order on Kafka) count its reports 1, 2, .."""
    conn = await asyncpg.connect(dsn)
    try:
        linked = await conn.fetch("SELECT report_id, case_id FROM case_reports")
        staged = await conn.fetch("SELECT seq, value FROM outbox ORDER BY seq")
        counts = await conn.fetch("SELECT id, report_count FROM cases")
    finally:
        await conn.close()
    assert sorted(r["report_id"] for r in linked) == sorted(r.report_id for r in reports)
    assert sum(c["report_count"] for c in counts) == len(reports)
    in_outbox = [CloudEvent.from_bytes(bytes(row["value"])) for row in staged]
    assert len(in_outbox) == len(reports), "one case.routed event per report, no more"
    for stream in (in_outbox, events):
        by_case = defaultdict(list)
        for event in stream:
            by_case[event.data["case_id"]].append(event.data["report_count"])
        for case_id, sequence in by_case.items():
            assert sequence == list(range(1, len(sequence) + 1)), (case_id, sequence)
    # Each subject's reports joined its case in the order they were sent.
    joined = {r["report_id"]: r["case_id"] for r in linked}
    by_subject = defaultdict(list)
    for report in reports:
        by_subject[report.subject.id].append(report)
    for subject, sent in by_subject.items():
        assert len({joined[r.report_id] for r in sent}) == 1, subject


def _asyncpg_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_a_failing_report_in_the_middle_of_a_run_loses_and_doubles_nothing(
        start_routing, infra, topic_prefix, monkeypatch):
    reports = reports_on(subjects=6, per_subject=10)
    poison = reports[31]
    runs: list[int] = []
    known_reports, place_report = report_store.known_reports, domain.place_report

    async def counting(session, ids):
        runs.append(len(ids))
        return await known_reports(session, ids)

    def failing(policy, report):
        if report.report_id == poison.report_id:
            raise RuntimeError("injected failure in the middle of a run")
        return place_report(policy, report)

    monkeypatch.setattr(report_store, "known_reports", counting)
    monkeypatch.setattr(domain, "place_report", failing)
    # Everything is on the topic before routing starts, so it arrives in runs.
    await produce_reports(infra.kafka, f"{topic_prefix}{topics.REPORTS_NORMALIZED}", reports)
    async with start_routing(consumer_max_attempts=2) as app:
        dead = await read_records(app.kafka, topics.dlq(app.settings.topic(
            topics.REPORTS_NORMALIZED)), expect=1, timeout=60)
        healthy = [r for r in reports if r is not poison]
        routed = await app.routed(expect=len(healthy), settle=1.0, timeout=60)
        database_url = app.settings.database_url
    assert max(runs) > 1, f"reports were never routed as a run: {runs}"
    assert len(dead) == 1 and CloudEvent.from_bytes(dead[0].value).data["report_id"] == \
        str(poison.report_id)
    assert all(e.type == CASE_ROUTED_V1 for e in routed)
    await assert_each_report_once_in_order(_asyncpg_dsn(database_url), healthy, routed)


async def test_a_crash_in_the_middle_of_a_run_loses_and_doubles_nothing(
        routing_db, infra, topic_prefix, tmp_path):
    """SIGKILL while a run's transaction has written but not committed; the restarted
    process routes the rest, and what was rolled back is routed once."""
    reports = reports_on(subjects=40, per_subject=15)
    await produce_reports(infra.kafka, f"{topic_prefix}{topics.REPORTS_NORMALIZED}", reports)
    dsn = _asyncpg_dsn(routing_db)
    database = sa.make_url(routing_db).database

    def start():
        port = free_port()
        env = service_env("routing", database_url=routing_db, port=port, kafka=infra.kafka,
                          topic_prefix=topic_prefix, receiver_url="")
        env.update(WARDEN_ROUTING_RELOAD_ON_SIGHUP="false", WARDEN_LOG_LEVEL="WARNING")
        return start_service("routing", env, port, tmp_path)

    first = start()
    conn = await asyncpg.connect(dsn)
    try:
        async def writing_transaction() -> bool:
            # A backend of routing's database with an open transaction that has written.
            return await conn.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = $1 "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()", database)

        await eventually(writing_transaction, what="a run being routed", timeout=90,
                         interval=0.005)
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
        routed_before = await conn.fetchval("SELECT count(*) FROM case_reports")
        assert routed_before < len(reports), "the crash came too late to interrupt anything"
        second = start()
        try:
            await wait_ready(second)

            async def all_published() -> bool:
                linked = await conn.fetchval("SELECT count(*) FROM case_reports")
                pending = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL")
                return linked == len(reports) and pending == 0

            await eventually(all_published, what="every report routed and published",
                             timeout=120)
        finally:
            os.killpg(second.process.pid, signal.SIGTERM)
            second.process.wait(30)
    finally:
        await conn.close()
    records = await read_records(infra.kafka, f"{topic_prefix}{topics.CASES_ROUTED}",
                                 expect=len(reports), timeout=60)
    # A relay killed between Kafka's ack and marking the row sends it again (at least once on
    # the wire; consumers drop the copy by event id): count each event once.
    events, seen = [], set()
    for record in records:
        event = CloudEvent.from_bytes(record.value)
        if event.id not in seen:
            seen.add(event.id)
            events.append(event)
    await assert_each_report_once_in_order(dsn, reports, events)


async def test_locking_a_runs_open_cases_reads_only_their_rows_after_the_table_grew(routing_db):
    """Locking a run's open cases reads the table a few times at most, not once per report of
    the run, after a burst of new cases that statistics have not caught up with (the last
    ANALYZE saw 20 closed cases). It had become a scan of every open case for each pair of
    the run: 380 ms per run of 100 reports at 9,000 cases."""
    conn = await asyncpg.connect(routing_db.replace("+asyncpg", ""))
    try:
        await conn.execute("ALTER TABLE cases SET (autovacuum_enabled = false)")
        insert = """
            INSERT INTO cases (id, subject_id, subject, policy_area, category, status, stage,
                queue, rule_id, policy_version, severity, base_priority, priority, due_at,
                channels, report_count, reporter_count, priority_handling, opened_at,
                queued_at, updated_at)
            SELECT gen_random_uuid(), 'post-' || n, jsonb_build_object('id', 'post-' || n),
                'community_standards', 'spam', $3, 'review', 'spam', 'spam', '1', 1, 10,
                10, now() + interval '1 day', '["user"]', 1, 1, false, now(), now(), now()
            FROM generate_series($1::int, $2::int) AS n"""
        await conn.execute(insert, 1, 20, "closed")
        await conn.execute("ANALYZE cases")
        await conn.execute(insert, 21, 6000, OPEN)
        statement = str(report_store._LOCK_OPEN.compile(
            dialect=pg_asyncpg.dialect()))
        subjects = [f"post-{n}" for n in range(100, 6000, 59)]
        async with conn.transaction():
            plan = await conn.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", subjects,
                ["community_standards"] * len(subjects), OPEN, REVIEW)
    finally:
        await conn.close()

    root = json.loads(plan)[0]["Plan"]
    assert root["Actual Rows"] == len(subjects)
    assert rows_read(root, "cases") <= 3 * 6000, json.dumps(root, indent=1)[:3000]
