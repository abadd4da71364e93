"""A Kafka broker restart under a stream of writes: the outbox relay recovers by itself and
publishes the backlog once, in order per key (on a broker of the test's own, never the shared one).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from tests.support.apps import eventually, running
from tests.support.fault_broker import FaultBroker
from tests.support.kafka import read_records
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import CASE_SLA_V1, CaseSlaV1

KEYS = [f"subject-{i}" for i in range(6)]


@pytest.fixture(scope="module")
def fault_broker():
    broker = FaultBroker()
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


def sla_payload() -> CaseSlaV1:
    now = datetime.now(UTC)
    return CaseSlaV1(case_id=uuid.uuid4(), queue="general", due_at=now, state="at_risk",
                     observed_at=now)


async def _write_until(stop: asyncio.Event, runtime, committed: dict[str, list[str]]) -> None:
    """One event every ~20 ms, round-robin over a few keys; records commit order per key."""
    n = 0
    while not stop.is_set():
        key = KEYS[n % len(KEYS)]
        async with runtime.sessions() as session, session.begin():
            event = await runtime.outbox.emit(session, type=CASE_SLA_V1, key=key,
                                              payload=sla_payload())
        committed[key].append(event.id)
        n += 1
        await asyncio.sleep(0.02)


async def test_relay_recovers_from_a_broker_restart_and_publishes_each_event_once_in_order(
        fault_broker, make_database):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                                kafka_bootstrap=fault_broker.bootstrap, topic_prefix=prefix,
                                outbox_poll_interval_s=0.5)
    committed: dict[str, list[str]] = defaultdict(list)
    stop_writing = asyncio.Event()
    app = create_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        writer = asyncio.create_task(_write_until(stop_writing, runtime, committed))
        try:
            await asyncio.sleep(2)
            await fault_broker.stop()
            await asyncio.sleep(15)  # writes go on into the outbox while the broker is away
            await fault_broker.start()
            await asyncio.sleep(3)
        finally:
            stop_writing.set()
            await writer
        total = sum(len(ids) for ids in committed.values())

        async def ready():
            response = await client.get("/readyz")
            return response.status_code == 200 and response.json()
        await eventually(ready, timeout=60, what="/readyz to be ready after the broker restart")

        records = await read_records(fault_broker.bootstrap, settings.topic(topics.CASES_SLA),
                                     expect=total, timeout=90, settle=3)
    published: dict[str, list[str]] = defaultdict(list)
    for record in records:
        published[record.key.decode()].append(CloudEvent.from_bytes(record.value).id)
    assert sum(len(ids) for ids in published.values()) == total, "lost or doubled events"
    for key in KEYS:
        assert published[key] == committed[key], f"events of {key} out of order or missing"
