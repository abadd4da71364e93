"""Notify benchmark: signing cost, delivery throughput beside raw signed posts, and
decision -> signed webhook latency through Kafka.

Runs against the local Kafka and a throwaway PostgreSQL database (created from
``WARDEN_BENCH_POSTGRES_DSN`` and dropped afterwards). The receiver is the project's own
webhook receiver (it verifies every signature) in a separate process (uvicorn, one worker), so
it does not share this process's CPU; its CPU use is read from ``/proc`` for each phase.

Figures, all in one run and against the same receiver:
* sign + verify per second, against a bare HMAC-SHA256 of the same bytes (ratio);
* baseline: N signed bodies POSTed straight to the receiver by the HTTP client notify uses
  (``warden.notify.http_clients``, aiohttp) at the delivery worker's concurrency, with the CPU
  used by this process (the load generator) and by the receiver: a generator well below one
  core is not what limits the figure;
* deliveries: N notifications queued in PostgreSQL, then notify's delivery worker (lease,
  sign, POST, record the attempt and the outcome event, publish it) sends them all;
  deliveries/s and the ratio to the baseline, with the same CPU readings;
* latency produce -> receipt, one decision at a time on an idle system.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402  (puts the services on the path)

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from warden.notify import persistence  # noqa: E402
from warden.notify.app import create_app  # noqa: E402
from warden.notify.delivery import DeliveryWorker  # noqa: E402
from warden.notify.domain import references_of, webhook_body  # noqa: E402
from warden.notify.http_clients import HttpClients  # noqa: E402
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

EVENTS = int(os.environ.get("WARDEN_BENCH_NOTIFY_EVENTS", "400"))
KAFKA = lib.KAFKA
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




class CpuMeter:
    """Wall time and CPU used by this process and by the receiver over one phase."""

    def __init__(self, receiver_pid: int) -> None:
        self._receiver_pid = receiver_pid

    def __enter__(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._own = time.process_time()
        self._receiver = lib.cpu_seconds(self._receiver_pid)
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.own = (time.process_time() - self._own) / self.wall
        self.receiver = (lib.cpu_seconds(self._receiver_pid) - self._receiver) / self.wall

    def describe(self, own: str) -> str:
        return (f"CPU: {own} {self.own:.0%} of a core, receiver {self.receiver:.0%} of a core "
                f"({os.cpu_count()} cores on this machine)")


@contextlib.asynccontextmanager
async def receiver_process():
    """The project's webhook receiver as its own process; its log lines are discarded."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WARDEN_RECEIVER_PORT": str(port), "WARDEN_NOTIFY_WEBHOOK_SECRET": SECRET,
           "PYTHONPATH": os.pathsep.join(str(lib.REPO / p) for p in ("shared", "services/notify"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warden.notify.receiver", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield process.pid, f"{url}/webhooks"
    finally:
        process.terminate()
        await process.wait()


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


async def bench_raw_posts(url: str, concurrency: int, receiver_pid: int) -> float:
    """The ceiling for HTTP alone: signed POSTs, ``concurrency`` in flight at a time."""
    body = webhook_body(uuid.uuid4(), decision(0)).encode()
    clients = HttpClients(connections=concurrency, timeout_s=10)
    try:
        async def post(i: int) -> None:
            answer = await clients.post(url, body, {**signature_headers(
                SECRET, f"raw-{i}", int(time.time()), body), "content-type": "application/json"})
            assert answer.status < 300, answer

        await asyncio.gather(*(post(i) for i in range(concurrency)))  # connections warm
        with CpuMeter(receiver_pid) as meter:
            for batch in range(0, EVENTS, concurrency):
                await asyncio.gather(*(post(i) for i in
                                       range(batch, min(EVENTS, batch + concurrency))))
    finally:
        await clients.aclose()
    rate = EVENTS / meter.wall
    print(f"baseline: {EVENTS} raw signed POSTs to the receiver, concurrency "
          f"{concurrency}: {rate:,.0f}/s; {meter.describe('load generator (aiohttp)')}; "
          f"{meter.own * meter.wall * 1000 / EVENTS:.1f} ms of CPU per POST")
    return rate


async def count(app, status: str | None = None) -> int:
    query = "SELECT count(*) FROM notifications" + (" WHERE status = :s" if status else "")
    async with app.state.runtime.engine.connect() as conn:
        return await conn.scalar(sa.text(query), {"s": status} if status else {})


async def bench_delivery(settings: NotifySettings, receiver_pid: int) -> tuple[float, int]:
    """N notifications queued in the database, then the delivery worker sends them all."""
    app = create_app(settings.model_copy(update={"delivery_enabled": False}))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        async with runtime.sessions() as session, session.begin():
            [endpoint] = await persistence.list_endpoints(session)
            rows = []
            for i in range(EVENTS):
                event = decision(i)
                rows += persistence.subscriber_rows(
                    event, references_of(event, event.payload()), [endpoint],
                    now=datetime.now(UTC))
            await persistence.insert_notifications(session, rows)
        worker = DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                outbox=runtime.outbox)
        with CpuMeter(receiver_pid) as meter:
            await worker.start()
            try:
                deadline = time.perf_counter() + 120
                while await count(app, "delivered") < EVENTS and time.perf_counter() < deadline:
                    await asyncio.sleep(0.02)
            finally:
                await worker.stop()
        delivered = await count(app, "delivered")
    rate = delivered / meter.wall
    print(f"deliveries: {delivered}/{EVENTS} queued notifications delivered (leased, signed, "
          f"POSTed, attempt and outcome event recorded) in {meter.wall:.2f}s = {rate:,.0f}/s; "
          f"{meter.describe('notify (this process)')}; "
          f"{meter.own * meter.wall * 1000 / max(delivered, 1):.1f} ms of notify CPU per "
          f"delivery (batch {settings.delivery_batch_size}, "
          f"{settings.delivery_rounds_in_flight} rounds in flight)")
    return rate, delivered


async def bench_latency(settings: NotifySettings, n: int = 15) -> list[float]:
    """Produce one decision at a time, wait for its delivery: Kafka + consumer + delivery."""
    app = create_app(settings)
    latencies: list[float] = []
    async with app.router.lifespan_context(app):
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
        await producer.start()
        try:
            for i in range(n):
                before = await count(app, "delivered")
                event = decision(EVENTS + i)
                started = time.perf_counter()
                await producer.send_and_wait(settings.topic(topics.DECISIONS_RECORDED),
                                             event.to_bytes(), key=event.subject.encode())
                while await count(app, "delivered") <= before \
                        and time.perf_counter() - started < 10:
                    await asyncio.sleep(0.002)
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await producer.stop()
    print(f"latency produce -> delivered, one decision at a time ({n}), ms: "
          f"p50 {lib.percentile(latencies, 0.5):.0f}, max {max(latencies):.0f}")
    return latencies


async def main() -> int:
    bench_signing()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(KAFKA, [prefix + t for t in all_topics_with_dlq()], 3, 1)
    db_name, url = await lib.create_database("notify")
    try:
        async with receiver_process() as (receiver_pid, receiver_url):
            settings = NotifySettings(database_url=url, kafka_bootstrap=KAFKA,
                                      topic_prefix=prefix, webhook_url=receiver_url,
                                      webhook_secret=SECRET, smtp_url="", log_level="WARNING")
            baseline = await bench_raw_posts(receiver_url, settings.delivery_batch_size,
                                             receiver_pid)
            rate, delivered = await bench_delivery(settings, receiver_pid)
            print(f"notify deliveries / raw signed posts = {rate / baseline:.2f}")
            await bench_latency(settings)
    finally:
        await lib.drop_database(db_name)
    if delivered != EVENTS:
        print(f"only {delivered} of {EVENTS} notifications were delivered")
        return 1
    print("BENCH notify ok")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
