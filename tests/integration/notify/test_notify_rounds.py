"""Delivery rounds in flight together: several leased batches at the receivers at once, in one
worker and across replicas, never send one notification twice; and an endpoint that works
again takes its backlog at once instead of each notification waiting out its backoff."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
from fastapi import FastAPI, Request, Response

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

N = 60
BATCH = 3


@dataclass
class CountingReceiver:
    """Holds each POST until a few are open at once, and counts how many were open together."""

    hold_until: int
    arrivals: list[str] = field(default_factory=list)
    open_now: int = 0
    most_open: int = 0
    crowd: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            body = await request.body()
            self.arrivals.append(spec_verify(SECRET, Received(dict(request.headers), body, path)))
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
            if self.open_now >= self.hold_until:
                self.crowd.set()
            try:
                # The first ones wait for a crowd: only batches in flight together make one.
                await asyncio.wait_for(self.crowd.wait(), 5)
            except TimeoutError:
                pass
            finally:
                self.open_now -= 1
            return Response(status_code=204)

        return app


async def _states(dsn: str) -> dict[str, tuple]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT n.id, n.status, n.attempts, count(a.id) AS recorded FROM notifications n "
            "LEFT JOIN delivery_attempts a ON a.notification_id = n.id GROUP BY n.id")
    finally:
        await conn.close()
    return {str(r["id"]): (r["status"], r["attempts"], r["recorded"]) for r in rows}


async def test_batches_in_flight_together_in_two_replicas_deliver_each_notification_once(
        make_settings, notify_database, infra):
    receiver = CountingReceiver(hold_until=3 * BATCH)
    dsn = asyncpg_dsn(notify_database)
    async with serving(receiver.app(), lifespan="off") as base_url:
        settings = make_settings(f"{base_url}/hooks", delivery_enabled=False,
                                 delivery_batch_size=BATCH, delivery_rounds_in_flight=4)
        app = create_app(settings)
        async with running(app):
            await publish_all(settings, [decision_event()[0] for _ in range(N)])

            async def queued():
                return len(await _states(dsn)) == N

            await eventually(queued, what=f"{N} queued notifications")
            runtime = app.state.runtime
            replicas = [DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                       outbox=runtime.outbox) for _ in range(2)]
            for worker in replicas:
                await worker.start()
            try:
                async def delivered():
                    states = await _states(dsn)
                    return states if all(s[0] == "delivered" for s in states.values()) else None

                states = await eventually(delivered, timeout=60, what="all delivered")
            finally:
                for worker in replicas:
                    await worker.stop()
            outcomes = await read_events(infra.kafka,
                                         settings.topic(topics.NOTIFICATIONS_DELIVERED),
                                         expect=N, event_type=NOTIFICATION_DELIVERED_V1,
                                         settle=1.0)

    # Batches were at the receiver together: more open at once than one batch holds.
    assert receiver.most_open > BATCH, receiver.most_open
    arrivals = Counter(receiver.arrivals)
    assert set(arrivals) == set(states) and set(arrivals.values()) == {1}, arrivals
    assert all(s == ("delivered", 1, 1) for s in states.values()), states
    told = Counter(str(e.payload().notification_id) for e in outcomes)
    assert told == Counter({i: 1 for i in states}), told


async def test_sends_beyond_the_connections_wait_for_one_and_are_not_failed(
        make_settings, notify_database, infra):
    """Twelve sends leased at once share two connections: the receiver never sees more than
    two at a time, and the sends that waited for a connection are delivered at their first
    attempt (the wait is not held against the receiver)."""
    receiver = CountingReceiver(hold_until=2)
    dsn = asyncpg_dsn(notify_database)
    async with serving(receiver.app(), lifespan="off") as base_url:
        settings = make_settings(f"{base_url}/hooks", delivery_batch_size=BATCH,
                                 delivery_rounds_in_flight=4, delivery_connections=2,
                                 delivery_timeout_s=5)
        async with running(create_app(settings)):
            await publish_all(settings, [decision_event()[0] for _ in range(N)])

            async def delivered():
                states = await _states(dsn)
                return states if len(states) == N and all(
                    s[0] == "delivered" for s in states.values()) else None

            states = await eventually(delivered, timeout=60, what="all delivered")
    assert receiver.most_open == 2, receiver.most_open
    assert Counter(receiver.arrivals) == Counter({i: 1 for i in states})
    assert all(s == ("delivered", 1, 1) for s in states.values()), states


async def test_an_endpoint_that_works_again_takes_its_backlog_at_once(make_settings,
                                                                      notify_database):
    """The receiver is down: every notification fails once and is given a backoff of a minute
    or more, and the circuit opens (threshold 2, 1 s cool-down). The receiver comes back; the
    next notification probes it, succeeds, and the backlog follows at once, not a minute later."""
    receiver = ScriptedReceiver(fail_always=True, failure_status=503)
    dsn = asyncpg_dsn(notify_database)
    async with serving_receiver(receiver):
        settings = make_settings(receiver.url, delivery_batch_size=4, delivery_max_attempts=5,
                                 delivery_backoff_initial_s=120, delivery_backoff_max_s=120,
                                 circuit_failure_threshold=2, circuit_open_s=1,
                                 circuit_max_open_s=2, delivery_poll_interval_s=0.5)
        async with running(create_app(settings)):
            await publish_all(settings, [decision_event()[0] for _ in range(12)])

            async def backlog():
                conn = await asyncpg.connect(dsn)
                try:
                    waiting = await conn.fetchval(
                        "SELECT count(*) FROM notifications WHERE status = 'pending' "
                        "AND attempts = 1 AND next_attempt_at > now() + interval '50 seconds'")
                    opened = await conn.fetchval(
                        "SELECT count(*) FROM endpoints WHERE consecutive_failures >= 2")
                finally:
                    await conn.close()
                return waiting == 12 and opened == 1

            await eventually(backlog, timeout=30, what="12 failed once, waiting a minute")
            receiver.fail_always = False
            await publish_all(settings, [decision_event()[0] for _ in range(2)])

            async def delivered():
                states = await _states(dsn)
                done = [s for s in states.values() if s[0] == "delivered"]
                return states if len(done) == 14 else None

            states = await eventually(delivered, timeout=40,
                                      what="the backlog delivered once the endpoint works")

    assert sorted(attempts for _, attempts, _ in states.values()) == [1, 1] + [2] * 12
