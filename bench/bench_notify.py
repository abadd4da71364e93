"""Notify benchmark: signing cost, and decisions.recorded -> signed webhook throughput and latency.

Runs against the local Kafka and a throwaway PostgreSQL database (created from
``WARDEN_BENCH_POSTGRES_DSN`` and dropped afterwards), with the notify app in-process
(real lifespan: consumer, outbox relay, delivery worker) and the project's own webhook
receiver (which verifies every signature) served by uvicorn on a free loopback port.

Figures:
* sign + verify per second, against a bare HMAC-SHA256 of the same bytes (ratio);
* end to end: N decision events produced to Kafka -> N verified webhooks at the receiver,
  throughput and latency (produce -> receipt) percentiles;
* baseline: the same N bodies POSTed straight to the receiver by one httpx client at the
  worker's concurrency (the ceiling for HTTP alone); ratio notify / baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for part in ("shared", "services/notify", "services/decision"):
    sys.path.insert(0, str(ROOT / part))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import uvicorn  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from warden.notify.app import MIGRATIONS, create_app  # noqa: E402
from warden.notify.domain import webhook_body  # noqa: E402
from warden.notify.receiver import ReceiverSettings, create_receiver_app  # noqa: E402
from warden.notify.settings import NotifySettings  # noqa: E402
from warden.notify.signing import (  # noqa: E402
    generate_secret,
    secret_key,
    signature_headers,
    verify,
)
from warden.shared.bus.kafka import ensure_topics  # noqa: E402
from warden.shared.contracts import topics  # noqa: E402
from warden.shared.contracts.envelope import new_event  # noqa: E402
from warden.shared.contracts.events import (  # noqa: E402
    DECISION_RECORDED_V1,
    DecisionRecordedV1,
    Subject,
)
from warden.shared.contracts.topics import all_topics_with_dlq  # noqa: E402
from warden.shared.migrations import upgrade  # noqa: E402

EVENTS = int(os.environ.get("WARDEN_BENCH_NOTIFY_EVENTS", "400"))
KAFKA = os.environ.get("WARDEN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ADMIN_DSN = os.environ.get("WARDEN_BENCH_POSTGRES_DSN",
                           "postgresql://warden:warden@127.0.0.1:54320/postgres")
SECRET = generate_secret()


def bench_signing(n: int = 20_000) -> None:
    body = json.dumps({"type": DECISION_RECORDED_V1, "event": {"data": "x" * 1200}}).encode()
    key = secret_key(SECRET)
    started = time.perf_counter()
    for i in range(n):
        hmac.new(key, f"id-{i}.1700000000.".encode() + body, hashlib.sha256).digest()
    raw = n / (time.perf_counter() - started)
    now = int(time.time())
    started = time.perf_counter()
    for i in range(n):
        headers = signature_headers(SECRET, f"id-{i}", now, body)
        verify(SECRET, headers, body, now=now)
    both = n / (time.perf_counter() - started)
    print(f"signing: bare HMAC-SHA256 {raw:,.0f}/s; sign+verify (2 HMACs, base64, headers) "
          f"{both:,.0f}/s; ratio {both / raw:.2f} (ideal ~0.5)")


class _InTaskServer(uvicorn.Server):
    def capture_signals(self):
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def serve(app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _InTaskServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks"
    finally:
        server.should_exit = True
        await task
        sock.close()


def decision(i: int):
    payload = DecisionRecordedV1(
        decision_id=uuid.uuid4(), case_id=uuid.uuid4(),
        subject=Subject(type="content", id=f"bench-post-{i}"), action="remove",
        policy_area="hate_harassment", category="hate_speech",
        dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", policy_cited="HS-1",
        rationale="benchmark decision", reviewer_id="bench", decided_at=datetime.now(UTC),
        report_ids=[uuid.uuid4()], restricts=True)
    return new_event(type=DECISION_RECORDED_V1, source="/warden/decision",
                     subject=payload.subject.id, payload=payload)


async def create_database() -> tuple[str, str]:
    name = f"warden_bench_notify_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = (sa.make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
           .render_as_string(hide_password=False))
    await upgrade(MIGRATIONS, url)
    return name, url


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def bench_end_to_end() -> tuple[float, int]:
    received: dict[str, float] = {}
    invalid = 0

    def on_line(line: str) -> None:
        nonlocal invalid
        entry = json.loads(line)
        if not entry["signature_valid"]:
            invalid += 1
        event_id = entry["summary"].get("event_id")
        if event_id and event_id not in received:
            received[event_id] = time.perf_counter()

    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(KAFKA, [prefix + t for t in all_topics_with_dlq()], 3, 1)
    db_name, url = await create_database()
    receiver_app = create_receiver_app(ReceiverSettings(secret=SECRET), emit=on_line)
    try:
        async with serve(receiver_app) as receiver_url:
            settings = NotifySettings(database_url=url, kafka_bootstrap=KAFKA, topic_prefix=prefix,
                                      webhook_url=receiver_url, webhook_secret=SECRET,
                                      log_level="WARNING")
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                events = [decision(i) for i in range(EVENTS)]
                producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=5)
                await producer.start()
                sent_at: dict[str, float] = {}
                started = time.perf_counter()
                try:
                    for event in events:
                        sent_at[event.id] = time.perf_counter()
                        await producer.send(settings.topic(topics.DECISIONS_RECORDED),
                                            event.to_bytes(), key=event.subject.encode())
                    await producer.flush()
                finally:
                    await producer.stop()
                queued_at = None
                deadline = time.perf_counter() + 90
                while ((len(received) < EVENTS or queued_at is None)
                       and time.perf_counter() < deadline):
                    queued_now = await count_notifications(app)
                    if queued_at is None and queued_now >= EVENTS:
                        queued_at = time.perf_counter()
                    await asyncio.sleep(0.05)
                elapsed = max(received.values()) - started
                delivered = len(received)
                idle = await idle_latencies(settings, received)
            latencies = [(received[e] - sent_at[e]) * 1000 for e in sent_at if e in received]
            rate = delivered / elapsed
            print(f"end to end: {delivered}/{EVENTS} decisions -> verified webhooks in "
                  f"{elapsed:.2f}s = {rate:,.0f} webhooks/s; invalid signatures: {invalid}")
            if queued_at is not None:
                queued_s = queued_at - started
                print(f"  of which consuming into notifications: {EVENTS / queued_s:,.0f} events/s"
                      f" (all {EVENTS} queued after {queued_s:.2f}s; the consumer sets the pace)")
            print(f"latency produce->receipt under a burst of {EVENTS}, ms: p50 "
                  f"{percentile(latencies, 50):.0f}, p95 {percentile(latencies, 95):.0f}, "
                  f"max {max(latencies):.0f}")
            print(f"latency produce->receipt one at a time (idle system, {len(idle)} events), ms: "
                  f"p50 {percentile(idle, 50):.0f}, max {max(idle):.0f}")
            baseline = await bench_raw_posts(receiver_url, settings.delivery_batch_size)
            print(f"baseline: raw signed POSTs to the same receiver, concurrency "
                  f"{settings.delivery_batch_size}: {baseline:,.0f}/s; notify / baseline = "
                  f"{rate / baseline:.2f}")
        return rate, delivered
    finally:
        await drop_database(db_name)


async def count_notifications(app) -> int:
    async with app.state.runtime.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT count(*) FROM notifications"))


async def idle_latencies(settings: NotifySettings, received: dict[str, float],
                         n: int = 15) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    latencies = []
    try:
        for i in range(n):
            event = decision(EVENTS + i)
            started = time.perf_counter()
            await producer.send_and_wait(settings.topic(topics.DECISIONS_RECORDED),
                                         event.to_bytes(), key=event.subject.encode())
            while event.id not in received and time.perf_counter() - started < 10:
                await asyncio.sleep(0.002)
            if event.id in received:
                latencies.append((received[event.id] - started) * 1000)
    finally:
        await producer.stop()
    return latencies


async def bench_raw_posts(url: str, concurrency: int) -> float:
    body = webhook_body(uuid.uuid4(), decision(0)).encode()
    async with httpx.AsyncClient(timeout=10) as client:
        async def post(i: int) -> None:
            await client.post(url, content=body,
                              headers=signature_headers(SECRET, f"raw-{i}", int(time.time()),
                                                        body))

        started = time.perf_counter()
        for batch in range(0, EVENTS, concurrency):
            await asyncio.gather(*(post(i) for i in range(batch, min(EVENTS, batch + concurrency))))
        return EVENTS / (time.perf_counter() - started)


async def main() -> int:
    bench_signing()
    _, delivered = await bench_end_to_end()
    if delivered != EVENTS:
        print(f"only {delivered} of {EVENTS} webhooks arrived")
        return 1
    print("BENCH notify ok")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
