"""Batched delivery: a round is leased in one statement and its outcomes are recorded in
batches; a notify process killed (SIGKILL) in the middle of a batch loses nothing and
doubles nothing.

notify runs as a real process here (``python -m warden.notify``), so the kill is a real crash:
no shutdown hook releases anything.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import pytest
from fastapi import FastAPI, Request, Response

from tests.e2e.harness import free_port, service_env, start_service, stop_service, wait_ready
from tests.integration.notify.conftest import (
    SECRET,
    Received,
    ScriptedReceiver,
    decision_event,
    publish_all,
    serving_receiver,
    spec_verify,
)
from tests.support.apps import eventually, running, serving
from tests.support.kafka import read_events
from warden.notify.app import create_app
from warden.notify.delivery import DeliveryWorker
from warden.shared.contracts import topics
from warden.shared.contracts.events import NOTIFICATION_DELIVERED_V1
from warden.shared.db import asyncpg_dsn

N = 16
QUICK = 5  # answered at once; the others are held open until the process is killed


@dataclass
class GatedReceiver:
    """Answers the first ``quick`` POSTs at once, holds the rest until ``gate`` opens."""

    quick: int
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    arrivals: list[str] = field(default_factory=list)     # webhook-id per POST, in order
    answered: list[str] = field(default_factory=list)     # webhook-ids answered 204

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            body = await request.body()
            webhook_id = spec_verify(SECRET, Received(dict(request.headers), body, path))
            self.arrivals.append(webhook_id)
            if len(self.arrivals) > self.quick:
                await self.gate.wait()
            self.answered.append(webhook_id)
            return Response(status_code=204)

        return app


async def _states(dsn: str) -> dict[str, list]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT n.id, n.status, n.attempts, "
                                "array_agg(a.outcome ORDER BY a.id) FILTER "
                                "(WHERE a.id IS NOT NULL) AS outcomes "
                                "FROM notifications n LEFT JOIN delivery_attempts a "
                                "ON a.notification_id = n.id GROUP BY n.id")
    finally:
        await conn.close()
    return {str(r["id"]): [r["status"], r["attempts"], list(r["outcomes"] or [])] for r in rows}


@pytest.mark.parametrize(("batch_size", "rounds"), [(N, 1), (4, 4)],
                         ids=["one batch", "four batches in flight"])
async def test_notify_killed_mid_batch_loses_nothing_and_doubles_nothing(
        make_settings, notify_database, infra, topic_prefix, tmp_path, batch_size, rounds):
    receiver = GatedReceiver(quick=QUICK)
    dsn = asyncpg_dsn(notify_database)
    async with serving(receiver.app(), lifespan="off") as base_url:
        url = f"{base_url}/hooks"
        # Queue the notifications with delivery off: one batch of N for the process below.
        settings = make_settings(url, delivery_enabled=False)
        async with running(create_app(settings)):
            await publish_all(settings, [decision_event()[0] for _ in range(N)])

            async def queued():
                return len(await _states(dsn)) == N

            await eventually(queued, what=f"{N} queued notifications")

        port = free_port()
        env = service_env("notify", database_url=notify_database, port=port, kafka=infra.kafka,
                          topic_prefix=topic_prefix, receiver_url=url)
        env.update({"WARDEN_NOTIFY_WEBHOOK_SECRET": SECRET,
                    "WARDEN_NOTIFY_DELIVERY_BATCH_SIZE": str(batch_size),
                    "WARDEN_NOTIFY_DELIVERY_ROUNDS_IN_FLIGHT": str(rounds),
                    "WARDEN_NOTIFY_DELIVERY_TIMEOUT_S": "4",
                    "WARDEN_NOTIFY_DELIVERY_LEASE_S": "5"})
        for run in ("first", "second"):
            (tmp_path / run).mkdir()
        first = start_service("notify", env, port, tmp_path / "first")
        try:
            await wait_ready(first)

            async def mid_batch():
                states = await _states(dsn)
                delivered = [i for i, s in states.items() if s[0] == "delivered"]
                return delivered if len(receiver.arrivals) == N and \
                    len(delivered) == QUICK else None

            # The quick ones are recorded while the rest of the batch is still at the receiver.
            recorded_before = await eventually(mid_batch, timeout=30,
                                               what="a batch half recorded, half in flight")
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
        finally:
            stop_service(first)
        receiver.gate.set()
        in_flight = set(receiver.arrivals) - set(recorded_before)

        second = start_service("notify", env, port, tmp_path / "second")
        try:
            await wait_ready(second)

            async def all_delivered():
                states = await _states(dsn)
                return states if all(s[0] == "delivered" for s in states.values()) else None

            states = await eventually(all_delivered, timeout=60,
                                      what="every notification delivered after the restart")
            outcomes = await read_events(infra.kafka,
                                         settings.topic(topics.NOTIFICATIONS_DELIVERED),
                                         expect=N, event_type=NOTIFICATION_DELIVERED_V1,
                                         settle=2.0)
        finally:
            stop_service(second)

    # Nothing lost: every notification reached the receiver and is delivered.
    assert len(states) == N and set(receiver.answered) >= set(states)
    # Nothing doubled: one outcome event per notification, one recorded delivery each. The
    # outbox publishes at least once: an event Kafka had taken just before the kill may come
    # again, under its own event id (which consumers drop), never as a second event.
    distinct = {event.id: event for event in outcomes}.values()
    told = Counter(str(e.payload().notification_id) for e in distinct)
    assert told == Counter({i: 1 for i in states}), told
    for notification_id, (_, attempts, recorded) in states.items():
        assert recorded == ["delivered"], (notification_id, recorded)
        assert attempts == 1
    # What was recorded before the kill was not sent again; what was in flight was resent
    # once, under the same webhook-id (which the receiver uses to drop the copy).
    arrivals = Counter(receiver.arrivals)
    assert all(arrivals[i] == 1 for i in recorded_before), arrivals
    assert all(arrivals[i] == 2 for i in in_flight), arrivals
    assert len(in_flight) == N - QUICK


async def test_a_failed_batch_opens_the_circuit_once_instead_of_doubling_it_per_notice(
        make_settings, notify_database):
    """Eight notifications to a receiver that is down, sent in one round: the circuit opens
    (threshold 3) for its first cool-down, not for 2^5 of them as if eight probes had failed
    one after another."""
    failing = ScriptedReceiver(fail_always=True, failure_status=503)
    dsn = asyncpg_dsn(notify_database)
    async with serving_receiver(failing):
        settings = make_settings(failing.url, delivery_enabled=False, delivery_batch_size=8,
                                 circuit_failure_threshold=3, circuit_open_s=30,
                                 circuit_max_open_s=600, delivery_max_attempts=10)
        app = create_app(settings)
        async with running(app):
            await publish_all(settings, [decision_event()[0] for _ in range(8)])

            async def queued():
                return len(await _states(dsn)) == 8

            await eventually(queued, what="8 queued notifications")
            runtime = app.state.runtime
            worker = DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                    outbox=runtime.outbox)
            await worker.start()
            try:
                async def opened():
                    conn = await asyncpg.connect(dsn)
                    try:
                        return await conn.fetchrow(
                            "SELECT consecutive_failures, circuit_open_until - now() AS left "
                            "FROM endpoints WHERE circuit_open_until IS NOT NULL")
                    finally:
                        await conn.close()

                endpoint = await eventually(opened, what="the circuit to open")
            finally:
                await worker.stop()

    assert len(failing.received) == 8  # one round, all eight sent together
    assert endpoint["consecutive_failures"] == 3
    assert endpoint["left"].total_seconds() <= 30
