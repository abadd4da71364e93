"""A decision database, its settings and a started producer: what the messaging tests of the
shared bus (outbox, relay, consumer runner) run against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from warden.decision.app import MIGRATIONS
from warden.decision.settings import DecisionSettings
from warden.shared.bus.kafka import Publisher
from warden.shared.db import create_engine, session_factory


@asynccontextmanager
async def bus_env(infra, topic_prefix: str, make_database, **settings) -> AsyncIterator[tuple]:
    """(settings, engine, sessions, producer) on a fresh migrated database; ``settings``
    are the ``DecisionSettings`` fields the test needs."""
    url = await make_database("decision", MIGRATIONS)
    configured = DecisionSettings(database_url=url, kafka_bootstrap=infra.kafka,
                                  topic_prefix=topic_prefix, **settings)
    engine = create_engine(url)
    producer = Publisher(infra.kafka, "test")
    await producer.start()
    try:
        yield configured, engine, session_factory(engine), producer
    finally:
        await producer.stop()
        await engine.dispose()
