"""A Kafka broker restart under a stream of writes: the outbox relay recovers by itself and
publishes the backlog once, in order per key (on a broker of the test's own, never the shared one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from tests.support.apps import eventually, running
from tests.support.fault_broker import FaultBroker
from tests.support.kafka import read_records
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import CASE_SLA_V1, CaseSlaV1
from warden.shared.observability import BROKER_LOSS

KEYS = [f"subject-{i}" for i in range(6)]
# Starting a broker twice takes minutes on a busy two-core box.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def fault_broker():
    broker = FaultBroker()
    try:
        broker.run("start")
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


def _log_lines(captured: str) -> list[dict]:
    lines = []
    for line in captured.splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return lines


async def test_relay_recovers_from_a_broker_restart_and_publishes_each_event_once_in_order(
        fault_broker, make_database, capsys):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                                kafka_bootstrap=fault_broker.bootstrap, topic_prefix=prefix,
                                outbox_poll_interval_s=0.5)
    committed: dict[str, list[str]] = defaultdict(list)
    losses_before = _broker_losses()
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
        await eventually(lambda: _not_lost(), timeout=30, what="the recovery to be announced")

        records = await read_records(fault_broker.bootstrap, settings.topic(topics.CASES_SLA),
                                     expect=total, timeout=90, settle=3)
    logs = _log_lines(capsys.readouterr().out)
    published: dict[str, list[str]] = defaultdict(list)
    for record in records:
        published[record.key.decode()].append(CloudEvent.from_bytes(record.value).id)
    assert sum(len(ids) for ids in published.values()) == total, "lost or doubled events"
    for key in KEYS:
        assert published[key] == committed[key], f"events of {key} out of order or missing"

    # The loss was handled: said once at warning (and its end once), counted once, and
    # aiokafka's own lines about it kept below warning.
    loud = [line for line in logs if line.get("logger", "").startswith("aiokafka")
            and line.get("level") in ("warning", "error", "critical")]
    assert loud == [], f"{len(loud)} aiokafka lines at warning or above, e.g. {loud[:3]}"
    said = [line for line in logs if line["event"].startswith("kafka_broker_")]
    assert [line["event"] for line in said] == [
        "kafka_broker_unreachable", "kafka_broker_reachable_again"], "\n".join(f"{l['timestamp']} {l['event']} {l.get('detail', '')[:150]}" for l in said)
    assert not [line for line in logs if line.get("level") in ("error", "critical")]
    assert _broker_losses() - losses_before == 1


async def _not_lost() -> bool:
    return not BROKER_LOSS.lost


def _broker_losses() -> float:
    return REGISTRY.get_sample_value("warden_kafka_broker_losses_total",
                                     {"service": "decision"}) or 0.0
