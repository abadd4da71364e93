"""Routing: normalised reports in -> cases persisted and ``cases.routed`` out, per second, with
one routing instance and with two in one consumer group, beside raw aiokafka
consume-and-produce on the same broker in the same run.

* raw baseline: one aiokafka consumer (its own process) reads the records and re-produces each
  with the idempotent ``acks=all`` producer the services use, committing after each batch;
* routing: ``python -m warden.routing`` processes on a throwaway database and topic prefix
  (topics with ``PARTITIONS`` partitions, so two instances get equal shares).

Each is timed alike: the consumers own their partitions first (a warm-up batch went through),
then the clock starts, N records are produced, and it stops when the N-th output record is read
back. A realistic mix: most subjects draw one report, some several (they join a case).

    .venv/bin/python bench/bench_routing.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402

REPORTS = int(os.environ.get("WARDEN_BENCH_ROUTING_REPORTS", "2000"))
RAW_RECORDS = int(os.environ.get("WARDEN_BENCH_ROUTING_RAW_RECORDS", "10000"))
PARTITIONS = 6
RUNS = 3
TIMEOUT_S = 300.0
CATEGORY_MIX = ["hate_speech", "harassment", "spam", "scam", "adult_nudity", "copyright",
                "graphic_violence", "phishing"]


def records(n: int, run: str) -> list[tuple[bytes, bytes]]:
    from warden.shared.contracts.envelope import new_event
    from warden.shared.contracts.events import (
        REPORT_NORMALIZED_V1,
        Channel,
        Reporter,
        ReportNormalizedV1,
        Subject,
    )
    from warden.shared.contracts.taxonomy import CATEGORIES

    rng = random.Random(run)
    channels = [Channel.USER] * 8 + [Channel.TRUSTED_FLAGGER, Channel.AUTOMATED]
    subjects = [f"bench-{run}-post-{i}" for i in range(int(n * 0.7))]
    out = []
    for _ in range(n):
        category, channel = rng.choice(CATEGORY_MIX), rng.choice(channels)
        report = ReportNormalizedV1(
            report_id=uuid.uuid4(), client_id="bench", channel=channel,
            received_at=datetime.now(UTC),
            reporter=Reporter(kind=channel, id=f"r{rng.randrange(10**6)}"),
            subject=Subject(type="content", id=rng.choice(subjects)),
            policy_area=CATEGORIES[category].area.value, category=category,
            dsa_category=CATEGORIES[category].dsa.value,
            signals={"score": round(rng.random(), 3)} if channel == Channel.AUTOMATED else {},
            text="bench report " + "x" * 200)
        event = new_event(type=REPORT_NORMALIZED_V1, source="/bench", subject=report.subject.id,
                          payload=report)
        out.append((report.subject.id.encode(), event.to_bytes()))
    return out


async def produce_all(topic: str, batch: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=lib.KAFKA, acks="all", linger_ms=10,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in batch]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


class Counter:
    """Reads ``topic`` from its current end and counts what arrives."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=lib.KAFKA, enable_auto_commit=False,
                                         max_poll_records=5000, fetch_max_wait_ms=50)

    async def __aenter__(self) -> Counter:
        await self.consumer.start()
        self.partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_end(*self.partitions)
        for tp in self.partitions:
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    async def until(self, expect: int) -> float:
        seen, deadline = 0, time.monotonic() + TIMEOUT_S
        while seen < expect:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen}/{expect} records reached {self.topic}")
            batches = await self.consumer.getmany(timeout_ms=100)
            seen += sum(len(b) for b in batches.values())
        return time.monotonic()


async def timed(input_topic: str, output_topic: str, batch: list[tuple[bytes, bytes]]) -> float:
    """Records per second from the first produce to the last output read back."""
    async with Counter(output_topic) as counter:
        started = time.monotonic()
        producing = asyncio.create_task(produce_all(input_topic, batch))
        finished = await counter.until(len(batch))
        await producing
    return len(batch) / (finished - started)


RAW_PIPELINE = '''
import asyncio, sys
from aiokafka import AIOKafkaConsumer
from warden.shared.bus.kafka import create_producer
async def main(kafka, source, sink, group):
    consumer = AIOKafkaConsumer(source, bootstrap_servers=kafka, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="latest",
                                max_poll_records=500)
    producer = create_producer(kafka, "bench-raw")
    await consumer.start(); await producer.start()
    while True:
        batches = await consumer.getmany(timeout_ms=100)
        for tp, batch in batches.items():
            futures = [await producer.send(sink, value=r.value, key=r.key) for r in batch]
            await asyncio.gather(*futures)
            await consumer.commit({tp: batch[-1].offset + 1})
asyncio.run(main(*sys.argv[1:]))
'''


async def warm(input_topic: str, output_topic: str, run: str, *, procs: list[lib.Proc]) -> None:
    """A small batch through, until every record comes out: the group owns its partitions."""
    for attempt in range(60):
        for proc in procs:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}")
        try:
            await asyncio.wait_for(timed(input_topic, output_topic, records(50, f"{run}w{attempt}")),
                                   10)
            return
        except (TimeoutError, asyncio.TimeoutError):
            continue
    raise RuntimeError("the consumers never took their partitions")


async def group_members(group: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=lib.KAFKA)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
        # DescribeGroups v2: (error_code, group_id, state, protocol_type, protocol, members, ..)
        return sum(len(g[5]) for r in responses for g in r.groups if g[1] == group)
    finally:
        await admin.close()


async def bench_raw(prefix: str) -> list[float]:
    from warden.shared.bus.kafka import ensure_topics

    source, sink = f"{prefix}raw.in", f"{prefix}raw.out"
    await ensure_topics(lib.KAFKA, [source, sink], PARTITIONS, 1)
    proc = lib.start("raw-aiokafka", [sys.executable, "-c", RAW_PIPELINE, lib.KAFKA, source,
                                      sink, f"{prefix}raw"], {})
    try:
        await warm(source, sink, "raw", procs=[proc])
        sample = records(2000, "raw")
        batch = [sample[i % len(sample)] for i in range(RAW_RECORDS)]
        rates = [await timed(source, sink, batch) for _ in range(RUNS)]
    finally:
        lib.stop(proc)
    return rates


async def bench_instances(prefix: str, instances: int) -> tuple[list[float], list[lib.Proc],
                                                                  dict]:
    from warden.shared.contracts import topics

    database, url = await lib.create_database("routing")
    procs = [lib.start_service("routing", database_url=url, prefix=prefix,
                               name=f"routing-{instances}x-{i}",
                               WARDEN_ROUTING_SLA_CHECK_INTERVAL_S="5",
                               WARDEN_ROUTING_LEASE_SWEEP_INTERVAL_S="5",
                               WARDEN_ROUTING_RELOAD_ON_SIGHUP="false",
                               WARDEN_TOPIC_PARTITIONS=str(PARTITIONS))
             for i in range(instances)]
    source = f"{prefix}{topics.REPORTS_NORMALIZED}"
    sink = f"{prefix}{topics.CASES_ROUTED}"
    rates, checks = [], {}
    try:
        for proc in procs:
            await lib.wait_ready(proc)
        for _ in range(100):
            if await group_members(f"{prefix}warden-routing") >= instances:
                break
            await asyncio.sleep(0.3)
        await warm(source, sink, f"{prefix}{instances}", procs=procs)
        cpu_before = sum(p.cpu_seconds() for p in procs)
        expected_cases = await lib.scalar(url, "SELECT count(*) FROM cases")
        expected_reports = await lib.scalar(url, "SELECT count(*) FROM case_reports")
        for run in range(RUNS):
            batch = records(REPORTS, f"{prefix}{instances}-{run}")
            rates.append(await timed(source, sink, batch))
            expected_reports += len(batch)
            print(f"  routing x{instances}: {rates[-1]:7.0f} reports/s")
        cpu = sum(p.cpu_seconds() for p in procs) - cpu_before
        reports = await lib.scalar(url, "SELECT count(*) FROM case_reports")
        checks = {"reports_expected": expected_reports, "reports_in_cases": reports,
                  "cpu_ms_per_report": cpu / (RUNS * REPORTS) * 1000,
                  "cases_before": expected_cases}
    finally:
        for proc in procs:
            proc.rss = proc.rss_mb()
            lib.stop(proc)
        await lib.drop_database(database)
    return rates, procs, checks


async def main() -> dict:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    names = await lib.create_topics(prefix, PARTITIONS)
    try:
        raw = await bench_raw(prefix)
        print(f"  raw aiokafka consume+produce: {statistics.median(raw):7.0f} records/s "
              f"(runs {', '.join(f'{r:.0f}' for r in raw)})")
        one, procs1, checks1 = await bench_instances(prefix, 1)
        two, procs2, checks2 = await bench_instances(prefix, 2)
    finally:
        await lib.delete_topics(names + [f"{prefix}raw.in", f"{prefix}raw.out"])
    return {
        "raw_rps": statistics.median(raw), "raw_runs_rps": raw,
        "routing_1x_rps": statistics.median(one), "routing_1x_runs_rps": one,
        "routing_2x_rps": statistics.median(two), "routing_2x_runs_rps": two,
        "routing_1x_cpu_ms_per_report": checks1["cpu_ms_per_report"],
        "routing_lost": (checks1["reports_expected"] - checks1["reports_in_cases"])
        + (checks2["reports_expected"] - checks2["reports_in_cases"]),
        "routing_rss_mb": max(p.rss for p in procs1 + procs2),
    }


if __name__ == "__main__":
    print(asyncio.run(main()))
