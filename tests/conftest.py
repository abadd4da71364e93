"""Fixtures shared by every test: real Kafka and PostgreSQL, isolated per test.

Infrastructure comes from environment variables, else testcontainers (when a Docker
engine answers), else the project's local scripts (deploy/local). If none works the
run fails with what is missing: tests never skip for missing infrastructure.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import infra as infra_support
from tests.support.databases import create_test_database, drop_database
from tests.support.kafka import create_all_topics, delete_prefixed_topics

# Tests run with the published development secrets (and the services they start as
# processes inherit this); the tests of the production guard turn it off explicitly.
os.environ.setdefault("WARDEN_DEV_MODE", "true")


@dataclass(frozen=True)
class Infra:
    kafka: str
    postgres_admin_dsn: str


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra(kafka=infra_support.kafka_bootstrap(),
                 postgres_admin_dsn=infra_support.postgres_admin_dsn())


@pytest.fixture
async def topic_prefix(infra: Infra) -> str:
    """A fresh topic namespace for this test, with every Warden topic created."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await create_all_topics(infra.kafka, prefix)
    yield prefix
    await delete_prefixed_topics(infra.kafka, prefix)


@pytest.fixture
async def make_database(infra: Infra):
    """``await make_database("intake", migrations_dir)`` -> URL of a fresh migrated database."""
    created: list[str] = []

    async def make(service: str, migrations: Path) -> str:
        name, url = await create_test_database(infra.postgres_admin_dsn, service, migrations)
        created.append(name)
        return url

    yield make
    for name in created:
        await drop_database(infra.postgres_admin_dsn, name)
