"""Decision keeps its copy of routed cases a run of records at a time (one multi-row upsert):
the outcome is the one of handling the records one by one."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from tests.support.apps import eventually, running
from tests.support.kafka import read_events
from warden.decision.app import create_app
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V2,
    AutomatedDecisionOrder,
    CaseRoutedV1,
    DecisionRecordedV2,
    Subject,
)


def routed(case_id: uuid.UUID, subject: Subject, reports: list[uuid.UUID], at: datetime,
           **extra) -> CaseRoutedV1:
    return CaseRoutedV1(
        case_id=case_id, subject=subject, policy_area="community_standards",
        category="hate_speech", queue="hate_harassment", priority=40,
        due_at=at + timedelta(hours=24), reason="opened" if len(reports) == 1 else
        "report_joined", report_ids=reports, report_count=len(reports), channels=["user"],
        rule_id="hate", policy_version="test", routed_at=at, **extra)


async def test_a_run_of_routed_cases_keeps_the_newest_copy_and_decides_once(
        infra, decision_settings):
    start = datetime.now(UTC)
    order = AutomatedDecisionOrder(rule_id="hash-match", policy_version="test",
                                   policy_id="CSE-1", actions=["remove"])
    events, expected = [], {}
    for n in range(5):
        case_id = uuid.uuid4()
        subject = Subject(type="content", id=f"content-{uuid.uuid4().hex[:8]}",
                          owner_id=f"acct-{n}")
        reports = [uuid.uuid4() for _ in range(3)]
        for i in range(1, 4):
            extra = {"automated_decision": order} if n == 2 and i == 1 else {}
            events.append(new_event(type=CASE_ROUTED_V1, source="/warden/routing",
                                    subject=subject.id, payload=routed(
                                        case_id, subject, reports[:i],
                                        start + timedelta(seconds=n * 10 + i), **extra)))
        # A stale copy (older routed_at) arriving last changes nothing.
        events.append(new_event(type=CASE_ROUTED_V1, source="/warden/routing",
                                subject=subject.id,
                                payload=routed(case_id, subject, reports[:1], start)))
        expected[case_id] = (reports, start + timedelta(seconds=n * 10 + 1))
    automated = events[8]
    events.insert(10, automated)  # the same event twice in the run: handled once
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", linger_ms=20)
    await producer.start()
    try:
        # One key, so every record is on one partition, in this order, in one run.
        sent = [await producer.send(decision_settings.topic(topics.CASES_ROUTED),
                                    key=b"one-partition", value=e.to_bytes()) for e in events]
        for future in sent:
            await future
    finally:
        await producer.stop()

    dsn = sa.make_url(decision_settings.database_url).set(drivername="postgresql") \
        .render_as_string(hide_password=False)
    async with running(create_app(decision_settings)):
        conn = await asyncpg.connect(dsn)
        try:
            async def all_handled():
                return await conn.fetchval("SELECT count(*) FROM inbox") == len(events) - 1
            await eventually(all_handled, what="every routed case handled")
            rows = await conn.fetch("SELECT case_id, report_ids, first_routed_at FROM routed_cases")
        finally:
            await conn.close()
        decided = await read_events(infra.kafka,
                                    decision_settings.topic(topics.DECISIONS_RECORDED),
                                    expect=1, event_type=DECISION_RECORDED_V2, settle=1.0)
    copies = {row["case_id"]: row for row in rows}
    assert set(copies) == set(expected)
    for case_id, (reports, first) in expected.items():
        assert [uuid.UUID(r) for r in json.loads(copies[case_id]["report_ids"])] == reports
        assert copies[case_id]["first_routed_at"] == first
    [decision] = [DecisionRecordedV2.model_validate(e.data) for e in decided]
    # Decided on the copy as its own event left it (one report), not as the run ended.
    assert str(decision.case_id) == automated.data["case_id"]
    assert [str(r) for r in decision.report_ids] == automated.data["report_ids"]
