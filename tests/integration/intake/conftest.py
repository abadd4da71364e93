"""The intake service running in-process against real Kafka and PostgreSQL.

One app per test module (its own database and topic namespace): the tests in a module
use distinct clients and subjects, so they do not see each other's reports, and the
suite pays the start-up once per module instead of once per test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from fastapi import FastAPI

from tests.support.apps import running
from tests.support.databases import create_test_database, drop_database
from tests.support.kafka import create_all_topics
from warden.intake.access import ALL_SCOPES, SIGNATURE_HEADER, raw_signature
from warden.intake.app import MIGRATIONS, create_app
from warden.intake.settings import IntakeSettings
from warden.shared.apikeys.store import create_client
from warden.shared.app import Runtime

MAX_BODY = 400_000


@dataclass
class IntakeEnv:
    settings: IntakeSettings
    app: FastAPI
    http: httpx.AsyncClient
    kafka: str

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def new_client(self, *scopes: str, rate: float | None = None,
                         burst: int | None = None) -> tuple[str, dict[str, str]]:
        """A registered client (every scope by default): its name and auth headers."""
        name = f"client-{uuid.uuid4().hex[:8]}"
        _, key = await create_client(self.runtime.sessions, name, list(scopes or ALL_SCOPES),
                                     known_scopes=ALL_SCOPES, rate_per_s=rate, burst=burst)
        return name, {"X-API-Key": key}


def signed(name: str, auth: dict[str, str], value: bytes,
           idempotency_key: str | None = None) -> list[tuple[str, bytes]]:
    """Kafka headers of a ``reports.raw`` record produced by client ``name`` (whose auth
    headers are ``auth``): its name and its signature, plus the idempotency key if any."""
    signature = raw_signature(auth["X-API-Key"], name, value, idempotency_key)
    headers = [("warden-client", name.encode()), (SIGNATURE_HEADER, signature.encode())]
    if idempotency_key is not None:
        headers.append(("idempotency-key", idempotency_key.encode()))
    return headers


def intake_settings(infra, database_url: str, prefix: str, **overrides) -> IntakeSettings:
    values = dict(database_url=database_url, kafka_bootstrap=infra.kafka, topic_prefix=prefix,
                  max_body_bytes=MAX_BODY, rate_limit_per_s=1000.0, rate_limit_burst=1000,
                  auth_failure_burst=1000,
                  consumer_backoff_initial_s=0.05, consumer_max_attempts=3)
    values.update(overrides)
    return IntakeSettings(**values)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(infra) -> AsyncIterator[IntakeEnv]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await create_all_topics(infra.kafka, prefix)
    name, url = await create_test_database(infra.postgres_admin_dsn, "intake", MIGRATIONS)
    settings = intake_settings(infra, url, prefix)
    try:
        app = create_app(settings)
        async with running(app) as http:
            yield IntakeEnv(settings=settings, app=app, http=http, kafka=infra.kafka)
    finally:
        await drop_database(infra.postgres_admin_dsn, name)
