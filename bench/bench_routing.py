"""Routing benchmark: normalised reports in -> cases persisted and cases.routed out, per second,
with ONE routing worker, beside the raw aiokafka consume-and-produce rate on the same broker.

Runs against the local Kafka and a throwaway PostgreSQL database (created from
``WARDEN_BENCH_POSTGRES_DSN``, migrated, dropped afterwards) under a fresh topic prefix.

* raw baseline: one aiokafka consumer reads N records and re-produces each one with the same
  idempotent ``acks=all`` producer settings the services use, committing offsets after each
  partition batch (what the service's consumer runner does, minus everything else);
* routing: the routing app in-process (real lifespan: one ``reports`` consumer, outbox relay,
  workers). Each report is one database transaction (inbox row, case opened or locked and
  joined, report row, history row, outbox row), then relayed to ``cases.routed``.

Both are timed the same way: the consumer is started and owns its partitions first, then the
clock starts, N records are produced, and the clock stops when the N-th output record is read
back from Kafka. The ratio routing / raw is what the guarantees (one transaction per report,
row locks, transactional outbox) cost against moving bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for part in ("shared", "services/routing"):
    sys.path.insert(0, str(ROOT / part))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402

from warden.routing.app import MIGRATIONS, create_app  # noqa: E402
from warden.routing.settings import RoutingSettings  # noqa: E402
from warden.shared.bus.kafka import create_producer, ensure_topics  # noqa: E402
from warden.shared.contracts import topics  # noqa: E402
from warden.shared.contracts.envelope import new_event  # noqa: E402
from warden.shared.contracts.events import (  # noqa: E402
    REPORT_NORMALIZED_V1,
    Channel,
    Reporter,
    ReportNormalizedV1,
    Subject,
)
from warden.shared.contracts.taxonomy import CATEGORIES  # noqa: E402
from warden.shared.contracts.topics import all_topics_with_dlq  # noqa: E402
from warden.shared.migrations import upgrade  # noqa: E402

REPORTS = int(os.environ.get("WARDEN_BENCH_ROUTING_REPORTS", "3000"))
RAW_RECORDS = int(os.environ.get("WARDEN_BENCH_ROUTING_RAW_RECORDS", "20000"))
KAFKA = os.environ.get("WARDEN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ADMIN_DSN = os.environ.get("WARDEN_BENCH_POSTGRES_DSN",
                           "postgresql://warden:warden@127.0.0.1:54320/postgres")
PARTITIONS = 3
TIMEOUT_S = 90.0
CATEGORY_MIX = ["hate_speech", "harassment", "spam", "scam", "adult_nudity", "copyright",
                "graphic_violence", "phishing"]
CHANNEL_MIX = [Channel.USER] * 8 + [Channel.TRUSTED_FLAGGER, Channel.AUTOMATED]


def reports(n: int, seed: int = 7) -> list[ReportNormalizedV1]:
    """A realistic mix: most subjects draw one report, some draw several (they join a case)."""
    rng = random.Random(seed)
    subjects = [f"bench-post-{i}" for i in range(int(n * 0.7))]
    out = []
    for _ in range(n):
        category = rng.choice(CATEGORY_MIX)
        channel = rng.choice(CHANNEL_MIX)
        out.append(ReportNormalizedV1(
            report_id=uuid.uuid4(), client_id="bench", channel=channel,
            received_at=datetime.now(UTC),
            reporter=Reporter(kind=channel, id=f"r{rng.randrange(10**6)}"),
            subject=Subject(type="content", id=rng.choice(subjects)),
            policy_area=CATEGORIES[category].area.value, category=category,
            dsa_category=CATEGORIES[category].dsa.value,
            signals={"score": round(rng.random(), 3)} if channel == Channel.AUTOMATED else {},
            text="bench report " + "x" * 200))
    return out


async def produce_all(topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=10,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def count_until(topic: str, expect: int, ready: asyncio.Event) -> float:
    """Read ``topic`` from the start; returns the monotonic time the ``expect``-th record came."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False,
                                max_poll_records=2000, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ready.set()
        seen = 0
        deadline = time.monotonic() + TIMEOUT_S
        while seen < expect:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen}/{expect} records reached {topic}")
            batches = await consumer.getmany(timeout_ms=100)
            seen += sum(len(records) for records in batches.values())
        return time.monotonic()
    finally:
        await consumer.stop()


async def timed(output_topic: str, expect: int, input_topic: str,
                records: list[tuple[bytes, bytes]]) -> float:
    ready = asyncio.Event()
    counter = asyncio.create_task(count_until(output_topic, expect, ready))
    await ready.wait()
    started = time.monotonic()
    await produce_all(input_topic, records)
    finished = await counter
    return finished - started


async def raw_pipeline(source: str, sink: str, group: str, assigned: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(source, bootstrap_servers=KAFKA, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_poll_records=200)
    producer = create_producer(KAFKA, "bench-raw")
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            if consumer.assignment():
                assigned.set()
            for tp, batch in batches.items():
                futures = [await producer.send(sink, value=r.value, key=r.key) for r in batch]
                await asyncio.gather(*futures)
                await consumer.commit({tp: batch[-1].offset + 1})
    finally:
        await producer.stop()
        await consumer.stop()


async def bench_raw(prefix: str, records: list[tuple[bytes, bytes]]) -> float:
    source, sink = f"{prefix}raw.in", f"{prefix}raw.out"
    await ensure_topics(KAFKA, [source, sink], PARTITIONS, 1)
    assigned = asyncio.Event()
    pipeline = asyncio.create_task(raw_pipeline(source, sink, f"{prefix}bench-raw", assigned))
    try:
        await asyncio.wait_for(assigned.wait(), 30)
        elapsed = await timed(sink, len(records), source, records)
    finally:
        pipeline.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pipeline
    return len(records) / elapsed


async def bench_routing(prefix: str, database_url: str,
                        records: list[tuple[bytes, bytes]]) -> tuple[float, int, int]:
    settings = RoutingSettings(database_url=database_url, kafka_bootstrap=KAFKA,
                               topic_prefix=prefix, reload_on_sighup=False, log_level="WARNING",
                               sla_check_interval_s=5, lease_sweep_interval_s=5)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        reports_consumer = next(c for c in runtime.consumers if c.name == "reports")
        for _ in range(300):
            if reports_consumer.assigned:
                break
            await asyncio.sleep(0.1)
        elapsed = await timed(settings.topic(topics.CASES_ROUTED), len(records),
                              settings.topic(topics.REPORTS_NORMALIZED), records)
        async with runtime.engine.connect() as conn:
            cases = await conn.scalar(sa.text("SELECT count(*) FROM cases"))
            linked = await conn.scalar(sa.text("SELECT count(*) FROM case_reports"))
    return len(records) / elapsed, cases, linked


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench{run}."
    database = f"warden_bench_routing_{run}"
    await ensure_topics(KAFKA, [f"{prefix}{t}" for t in all_topics_with_dlq()], PARTITIONS, 1)
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = (sa.make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=database)
           .render_as_string(hide_password=False))
    try:
        await upgrade(MIGRATIONS, url)
        sample = reports(REPORTS)
        routed_records = [(r.subject.id.encode(),
                           new_event(type=REPORT_NORMALIZED_V1, source="/bench",
                                     subject=r.subject.id, payload=r).to_bytes())
                          for r in sample]
        raw_records = [routed_records[i % len(routed_records)] for i in range(RAW_RECORDS)]
        print(f"routing benchmark: Kafka {KAFKA}, {PARTITIONS} partitions per topic, "
              f"PostgreSQL {sa.make_url(ADMIN_DSN).host}:{sa.make_url(ADMIN_DSN).port}")
        raw_rate = await bench_raw(prefix, raw_records)
        print(f"raw aiokafka consume+produce (1 consumer, idempotent acks=all producer): "
              f"{RAW_RECORDS} records, {raw_rate:,.0f} records/s")
        routing_rate, cases, linked = await bench_routing(prefix, url, routed_records)
        subjects = len({(r.subject.id, r.policy_area) for r in sample})
        print(f"routing (1 worker): {REPORTS} normalised reports -> {linked} reports persisted in "
              f"{cases} cases, {REPORTS} cases.routed out: {routing_rate:,.0f} reports/s")
        if (cases, linked) != (subjects, REPORTS):
            raise SystemExit(f"routing lost or split work: expected {subjects} cases (one per "
                             f"subject and policy area) and "
                             f"{REPORTS} reports, found {cases} and {linked}")
        print(f"ratio routing / raw: {routing_rate / raw_rate:.3f} "
              f"(raw consume+produce is {raw_rate / routing_rate:.1f}x faster)")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    print("BENCH routing ok")


if __name__ == "__main__":
    asyncio.run(main())
