"""One report, one statement: the report and its outbox event are written by a single
statement committed on its own. What fails inside it leaves neither; resends race to exactly
one report and one event."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from tests.support.kafka import read_records
from warden.intake.examples import example
from warden.shared.contracts import topics

pytestmark = pytest.mark.asyncio(loop_scope="module")


def report_on(subject_id: str) -> dict:
    body = example("user")
    body["content"]["id"] = subject_id
    return body


async def count(intake, sql: str, **params) -> int:
    async with intake.runtime.engine.connect() as conn:
        return await conn.scalar(sa.text(sql), params)


async def stored(intake, subject_id: str) -> tuple[int, int]:
    """(reports, outbox events) about the subject."""
    return (await count(intake, "SELECT count(*) FROM reports WHERE subject_id = :s", s=subject_id),
            await count(intake, "SELECT count(*) FROM outbox WHERE key = :s", s=subject_id))


async def test_a_failure_inside_the_statement_leaves_neither_report_nor_event(intake):
    _, auth = await intake.new_client()
    subject_id = f"post-poison-{uuid.uuid4().hex[:8]}"
    # The event's row fails after the report's row was written, inside the same statement.
    async with intake.runtime.engine.begin() as conn:
        await conn.execute(sa.text(
            f"ALTER TABLE outbox ADD CONSTRAINT refuse_{subject_id.replace('-', '_')} "
            f"CHECK (key <> '{subject_id}')"))
    try:
        refused = await intake.http.post("/v1/reports", json=report_on(subject_id),
                                         headers={**auth, "Idempotency-Key": subject_id})
        assert refused.status_code >= 400 and refused.status_code != 201
        assert await stored(intake, subject_id) == (0, 0)
    finally:
        async with intake.runtime.engine.begin() as conn:
            await conn.execute(sa.text(
                f"ALTER TABLE outbox DROP CONSTRAINT refuse_{subject_id.replace('-', '_')}"))
    # The client's retry goes through once, with its one event.
    retried = await intake.http.post("/v1/reports", json=report_on(subject_id),
                                     headers={**auth, "Idempotency-Key": subject_id})
    assert retried.status_code == 201, retried.text
    assert await stored(intake, subject_id) == (1, 1)


async def test_concurrent_resends_store_one_report_and_publish_one_event(intake):
    _, auth = await intake.new_client()
    subject_id = f"post-race-{uuid.uuid4().hex[:8]}"
    headers = {**auth, "Idempotency-Key": f"race-{subject_id}"}
    answers = await asyncio.gather(*(intake.http.post("/v1/reports", json=report_on(subject_id),
                                                      headers=headers) for _ in range(12)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 11 + [201], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await stored(intake, subject_id) == (1, 1)
    published = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                   expect=1, settle=1.5,
                                   where=lambda r: r.key == subject_id.encode())
    assert len(published) == 1


async def test_a_report_waits_for_an_earlier_transaction_on_its_subject_and_publishes_after_it(
        intake):
    """The single statement draws its outbox ``seq`` only once it holds its subject's key lock:
    transaction A stages an event of the subject first and commits last; the report's
    statement waits for A, so the events go out in commit order (without the lock the report
    would commit first and be published after A's event, by ``seq``)."""
    from tests.integration.routing.conftest import make_report
    from tests.support.apps import eventually
    from warden.shared.contracts.envelope import CloudEvent
    from warden.shared.contracts.events import REPORT_NORMALIZED_V1

    _, auth = await intake.new_client()
    subject_id = f"post-order-{uuid.uuid4().hex[:8]}"
    runtime, commits = intake.runtime, []
    async with runtime.sessions() as session_a:
        transaction_a = await session_a.begin()
        event_a = await runtime.outbox.emit(session_a, type=REPORT_NORMALIZED_V1,
                                            key=subject_id,
                                            payload=make_report(subject_id=subject_id))
        pid_a = await session_a.scalar(sa.text("SELECT pg_backend_pid()"))

        async def post_report() -> str:
            answer = await intake.http.post("/v1/reports", json=report_on(subject_id),
                                            headers=auth)
            assert answer.status_code == 201, answer.text
            commits.append("report")
            return answer.json()["id"]

        posting = asyncio.create_task(post_report())

        async def report_done_or_waiting_for_a() -> bool:
            if posting.done():
                return True
            return await count(intake, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_"
                               "type = 'Lock' AND :a = ANY(pg_blocking_pids(pid))", a=pid_a) > 0

        await eventually(report_done_or_waiting_for_a, what="the report to commit or wait for A")
        await transaction_a.commit()
        commits.append("A")
    report_id = await posting
    records = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                 expect=2, where=lambda r: r.key == subject_id.encode(),
                                 timeout=20, settle=1)
    events = [CloudEvent.from_bytes(r.value) for r in records]
    published = ["A" if e.id == event_a.id else "report" for e in events]
    assert commits == ["A", "report"], "the report did not wait for A's transaction"
    assert published == commits
    assert events[1].data["report_id"] == report_id
