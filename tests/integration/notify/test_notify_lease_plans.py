"""The delivery worker's lease statements read the pending notifications only, also in the
generic plan a prepared statement gets after five runs (asyncpg prepares every statement):
the table keeps every notification ever sent, so reading it grows without bound."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import sqlalchemy as sa

from tests.support.plans import rows_read
from warden.notify import leases
from warden.shared.db import create_engine, session_factory

DELIVERED = 3000
DUE = 20


async def _history(dsn: str) -> None:
    """One endpoint, ``DELIVERED`` notifications long delivered and ``DUE`` pending ones."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("""
            INSERT INTO endpoints (id, name, url, secret, event_types, enabled, created_at,
                                   updated_at, audiences)
            VALUES (gen_random_uuid(), 'platform', 'http://127.0.0.1:9/hook', 'secret',
                    '[]', true, now(), now(), '["reporter"]')""")
        insert = """
            INSERT INTO notifications (id, endpoint_id, source_event_id, source_event_type,
                subject_id, report_ids, body, status, attempts, attempts_in_round, created_at,
                updated_at, dedupe_key, next_attempt_at)
            SELECT gen_random_uuid(), (SELECT id FROM endpoints), 'event-' || n, 'test',
                'subject', '[]', '{}', $3, 1, 0, now(), now(), 'key-' || n,
                now() - interval '1 minute'
            FROM generate_series($1::int, $2::int) AS n"""
        await conn.execute(insert, 1, DELIVERED, "delivered")
        await conn.execute("ANALYZE notifications")
        await conn.execute(insert, DELIVERED + 1, DELIVERED + DUE, "pending")
    finally:
        await conn.close()


async def _statements_of(url: str, call) -> list[tuple[str, tuple]]:
    """The SQL and parameters ``call(session)`` sends (in a transaction rolled back)."""
    engine = create_engine(url)
    sent: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, tuple(parameters)))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with session_factory(engine)() as session:
            await call(session)
            await session.rollback()
    finally:
        await engine.dispose()
    return sent


async def _generic_plan(dsn: str, statement: str, parameters: tuple) -> dict:
    """EXPLAIN ANALYZE of the statement's generic plan (prepared by name, as asyncpg does)."""
    conn = await asyncpg.connect(dsn)
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE probe AS {statement}")
        arguments = f"({', '.join(map(_literal, parameters))})" if parameters else ""
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe{arguments}")
        return json.loads(plan)[0]["Plan"]
    finally:
        await transaction.rollback()  # what the EXPLAIN ANALYZE of the lease changed
        await conn.close()


def _literal(value) -> str:
    """A parameter as SQL text (``EXECUTE`` takes no bind parameters); its type is the one
    the prepared statement gave that parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def _claim(session) -> None:
    await leases.claim_due(session, limit=10, now=datetime.now(UTC),
                           lease=timedelta(seconds=30))


async def _next_due(session) -> None:
    await leases.next_due_at(session)


@pytest.mark.parametrize("call", [_claim, _next_due], ids=["claim_due", "next_due_at"])
async def test_lease_statements_read_only_pending_notifications_in_their_generic_plan(
        notify_database, call):
    dsn = notify_database.replace("+asyncpg", "")
    await _history(dsn)
    [(statement, parameters)] = await _statements_of(notify_database, call)
    plan = await _generic_plan(dsn, statement, parameters)
    assert rows_read(plan, "notifications") <= 3 * DUE, json.dumps(plan, indent=1)[:3000]
