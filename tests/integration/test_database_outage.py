"""A database outage seen from the HTTP edge: a 503 problem with Retry-After, never a 500,
and the service recovers by itself when the database is back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.support.apps import eventually, running
from tests.support.tcp_proxy import database_behind_proxy
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared.auth import issue_reviewer_token
from warden.shared.db import RawPool, asyncpg_dsn


async def test_requests_during_a_database_outage_get_503_then_recover(infra, topic_prefix,
                                                                       make_database):
    proxy, proxied_url = await database_behind_proxy(await make_database("decision", MIGRATIONS))
    settings = DecisionSettings(database_url=proxied_url, kafka_bootstrap=infra.kafka,
                                topic_prefix=topic_prefix)
    token = issue_reviewer_token(settings.reviewer_token_secret, "alice", [], ["reviewer"])
    headers = {"Authorization": f"Bearer {token}"}
    path = "/v1/decisions/00000000-0000-0000-0000-000000000001"
    async with running(create_app(settings)) as client:
        assert (await client.get(path, headers=headers)).status_code == 404

        await proxy.cut()
        during = await client.get(path, headers=headers)
        assert during.status_code == 503, during.text
        assert during.headers["content-type"] == "application/problem+json"
        assert int(during.headers["retry-after"]) > 0
        assert during.json()["type"] == "urn:warden:problem:unavailable"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]

        await proxy.restore()

        async def answers_again():
            return (await client.get(path, headers=headers)).status_code == 404
        await eventually(answers_again, timeout=15, what="the service to use the database again")

        async def ready_again():  # the outbox relay, backing off, notices on its next try
            return (await client.get("/readyz")).status_code == 200
        await eventually(ready_again, timeout=15, what="/readyz to report ready again")
    await proxy.cut()


async def test_a_raw_connection_interrupted_mid_statement_is_not_handed_out_again(
        make_database):
    """``RawPool`` skips asyncpg's reset query, so it must itself drop a connection whose use
    was interrupted (a cancelled call here; the server going away mid-statement in a
    PostgreSQL restart, which once reached a client as a 500 'another operation is in
    progress'); a connection that merely ran a failing statement is kept."""
    url = await make_database("decision", MIGRATIONS)
    pool = RawPool(url, size=1)
    await pool.start()
    watcher = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with pool.acquire() as connection:
            first = connection.get_server_pid()
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1 / 0")
        async with pool.acquire() as connection:
            assert connection.get_server_pid() == first  # an ordinary error: kept

        async def slow() -> None:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT pg_sleep(30)")

        async def sleeping() -> bool:
            return bool(await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                "AND state = 'active' AND datname = current_database()"))

        task = asyncio.create_task(slow())
        await eventually(sleeping, what="the slow statement to run")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT 1") == 1
            assert connection.get_server_pid() != first  # interrupted: a new connection
    finally:
        await watcher.close()
        await pool.stop()
