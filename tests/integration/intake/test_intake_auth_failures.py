"""Guessing API keys is slow and cheap for us: failed authentications are limited per
source address (429 with Retry-After), and a bad key costs one database lookup at most."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio
from sqlalchemy import event

from tests.integration.intake.conftest import IntakeEnv, intake_settings
from tests.support.apps import running
from tests.support.databases import create_test_database, drop_database
from tests.support.kafka import create_all_topics
from warden.intake.app import MIGRATIONS, create_app
from warden.intake.examples import example

BURST = 3


@pytest_asyncio.fixture(loop_scope="function")
async def guarded(infra):
    """Intake allowing 3 failed authentications per source, then one per 100 s."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await create_all_topics(infra.kafka, prefix)
    name, url = await create_test_database(infra.postgres_admin_dsn, "intake", MIGRATIONS)
    settings = intake_settings(infra, url, prefix, auth_failure_burst=BURST,
                               auth_failure_rate_per_s=0.01, consumers_enabled=False)
    try:
        app = create_app(settings)
        async with running(app) as http:
            yield IntakeEnv(settings=settings, app=app, http=http, kafka=infra.kafka)
    finally:
        await drop_database(infra.postgres_admin_dsn, name)


class ClientLookups:
    """Counts the statements the service sends to PostgreSQL that read ``api_clients``."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.engine = engine.sync_engine
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM api_clients" in statement:
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def test_a_source_failing_too_often_gets_429_with_retry_after(guarded):
    _, good = await guarded.new_client()
    created = await guarded.http.post("/v1/reports", json=example("user"), headers=good)
    assert created.status_code == 201
    statuses = []
    for attempt in range(BURST + 2):
        response = await guarded.http.get(f"/v1/reports/{uuid.uuid4()}",
                                          headers={"X-API-Key": f"wik_guess-{attempt}"})
        statuses.append(response.status_code)
    assert statuses == [401] * BURST + [429, 429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    assert "failed authentications" in response.json()["detail"]
    # A key this worker already verified still passes from the same address.
    mine = await guarded.http.get(created.headers["location"], headers=good)
    assert mine.status_code == 200


async def test_repeating_a_bad_key_costs_one_lookup(guarded):
    gate = guarded.runtime.extras["api_keys"]
    gate.failures.burst = gate.failures.rate = 1000.0  # this test is about lookups only
    lookups = ClientLookups(guarded.runtime.engine)
    try:
        for _ in range(10):
            response = await guarded.http.get(f"/v1/reports/{uuid.uuid4()}",
                                              headers={"X-API-Key": "wik_not-a-real-key"})
            assert response.status_code == 401
        assert lookups.count == 1
        await guarded.http.get(f"/v1/reports/{uuid.uuid4()}",
                               headers={"X-API-Key": "wik_another-bad-key"})
        assert lookups.count == 2
    finally:
        lookups.close()


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}])
async def test_no_key_at_all_is_401_and_no_lookup(guarded, headers):
    lookups = ClientLookups(guarded.runtime.engine)
    try:
        for _ in range(BURST + 2):
            response = await guarded.http.get(f"/v1/reports/{uuid.uuid4()}", headers=headers)
            assert response.status_code == 401
        assert lookups.count == 0
    finally:
        lookups.close()
