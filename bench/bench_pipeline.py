"""The whole pipeline on this box: intake, routing, decision and notify as processes (plus the
local webhook receiver), each on its own throwaway database, Kafka and PostgreSQL shared.

* sustained: wrk drives intake for ``SUSTAINED_S`` seconds as fast as it answers; the rate is
  reports accepted *and* routed into cases over the time until the last one was routed, and
  every accepted report must sit in exactly one case (nothing lost);
* latency: the open-loop generator offers ``FIXED_RATE`` reports/s; each report's latency runs
  from its scheduled send to the ``cases.routed`` event naming it (the relay's record timestamp);
* RSS of every service afterwards.

    .venv/bin/python bench/bench_pipeline.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402

SUSTAINED_S = float(os.environ.get("WARDEN_BENCH_SUSTAINED_S", "60"))
FIXED_RATE = float(os.environ.get("WARDEN_BENCH_FIXED_RATE", "300"))
FIXED_S = float(os.environ.get("WARDEN_BENCH_FIXED_S", "20"))
CONNECTIONS = 32
SERVICES = ("intake", "routing", "decision", "notify")


async def routed_count(url: str) -> int:
    return await lib.scalar(url, "SELECT count(*) FROM case_reports")


async def wait_routed(url: str, expect: int, timeout: float = 180) -> float:
    """Monotonic time at which routing holds ``expect`` reports in cases."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await routed_count(url) >= expect:
            return time.monotonic()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"routing has {await routed_count(url)} of {expect} reports")


async def wait_notified(url: str, reports: int, timeout: float = 300) -> float:
    """Monotonic time at which notify has seen ``reports`` reports and has nothing pending
    (every receipt delivered, every outcome recorded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = await lib.scalar(url, "SELECT count(*) FROM known_reports "
                                     "WHERE normalized_event_id IS NOT NULL")
        pending = await lib.scalar(url, "SELECT count(*) FROM notifications "
                                        "WHERE status = 'pending'")
        if seen >= reports and pending == 0:
            return time.monotonic()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"notify has seen {seen} of {reports} reports, {pending} pending")


async def routed_at(topic: str, positions: dict[int, int], ids: set[str],
                    timeout: float = 120) -> dict[str, float]:
    """For each report id, when the first ``cases.routed`` event naming it was published."""
    consumer = AIOKafkaConsumer(bootstrap_servers=lib.KAFKA, enable_auto_commit=False,
                                max_poll_records=5000)
    await consumer.start()
    found: dict[str, float] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in positions]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, positions[tp.partition])
        deadline = time.monotonic() + timeout
        while len(found) < len(ids) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    payload = json.loads(record.value)["data"]
                    for report_id in payload.get("report_ids", []):
                        if report_id in ids and report_id not in found:
                            found[report_id] = record.timestamp / 1000
    finally:
        await consumer.stop()
    return found


async def end_offsets(topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=lib.KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)
                      or await _partitions(consumer, topic)]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - metadata for a new topic
    return consumer.partitions_for_topic(topic) or set()


def _cpu(procs: dict[str, lib.Proc], receiver: lib.Proc) -> dict[str, float]:
    """CPU seconds so far of each service, the webhook receiver, the broker and PostgreSQL."""
    return {**{s: p.cpu_seconds() for s, p in procs.items()},
            "receiver": receiver.cpu_seconds(), **lib.infrastructure_cpu_seconds()}


def _per_report(now: dict[str, float], before: dict[str, float],
                reports: int) -> dict[str, float]:
    return {name: (now[name] - before[name]) / max(1, reports) * 1000 for name in now}


async def main() -> dict:
    from warden.shared.contracts import topics

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    names = await lib.create_topics(prefix)
    databases = {s: await lib.create_database(s) for s in SERVICES}
    receiver_port = lib.free_port()
    receiver = lib.start("receiver", [sys.executable, "-m", "warden.notify.receiver"], {
        "WARDEN_RECEIVER_PORT": str(receiver_port),
        "WARDEN_NOTIFY_WEBHOOK_SECRET": lib.WEBHOOK_SECRET}, receiver_port)
    procs = {s: lib.start_service(
        s, database_url=databases[s][1], prefix=prefix, name=f"pipeline-{s}",
        WARDEN_NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{receiver_port}/webhooks")
        for s in SERVICES}
    figures: dict = {}
    try:
        for proc in procs.values():
            await lib.wait_ready(proc)
        intake, routing_url = procs["intake"], databases["routing"][1]
        auth = {"X-API-Key": lib.API_KEY}
        lib.wrk(intake.url, connections=CONNECTIONS, seconds=2, headers=auth)
        await wait_routed(routing_url, await lib.scalar(databases["intake"][1],
                                                        "SELECT count(*) FROM reports"))
        before_reports = await lib.scalar(databases["intake"][1], "SELECT count(*) FROM reports")
        cpu_before = _cpu(procs, receiver)
        started = time.monotonic()
        sustained = await asyncio.to_thread(lib.wrk, intake.url, connections=CONNECTIONS,
                                            seconds=SUSTAINED_S, headers=auth)
        await asyncio.sleep(1)  # answers wrk gave up waiting for may still commit
        stored = await lib.scalar(databases["intake"][1], "SELECT count(*) FROM reports")
        finished = await wait_routed(routing_url, stored)
        accepted = stored - before_reports
        routed = await routed_count(routing_url)
        await asyncio.sleep(2)  # nothing more may arrive: routed must still equal stored
        stored = await lib.scalar(databases["intake"][1], "SELECT count(*) FROM reports")
        routed = await routed_count(routing_url)
        cpu = _per_report(_cpu(procs, receiver), cpu_before, accepted)
        print(f"  sustained: {accepted} reports accepted in {sustained.seconds:.0f} s "
              f"({sustained.rate:.0f}/s at intake), all routed after {finished - started:.0f} s: "
              f"{accepted / (finished - started):.0f} reports/s end to end; CPU ms/report "
              + ", ".join(f"{s} {v:.2f}" for s, v in cpu.items()))
        # Notify (and decision) may still be working through the run: the cost of a report is
        # what every process spent until the last receipt was delivered, not the CPU share
        # it had while the load lasted (a saturated process shows its share, whatever its cost).
        notified = await wait_notified(databases["notify"][1], stored)
        drained = _per_report(_cpu(procs, receiver), cpu_before, accepted)
        print(f"  every receipt delivered {notified - started:.0f} s after the start; CPU "
              "ms/report until then " + ", ".join(f"{s} {v:.2f}" for s, v in drained.items()))
        figures.update({
            "pipeline_notified_after_s": notified - started,
            "pipeline_cpu_ms_per_report_drained": drained,
            "pipeline_sustained_rps": accepted / (finished - started),
            "pipeline_intake_rps": sustained.rate, "pipeline_accepted": accepted,
            "pipeline_lost": stored - routed, "pipeline_http_errors": sustained.errors,
            "pipeline_wrk_cpu_share": sustained.wrk_cpu_s / sustained.seconds,
            "pipeline_cpu_ms_per_report": cpu,
        })
        sink = f"{prefix}{topics.CASES_ROUTED}"
        positions = await end_offsets(sink)
        offered = await lib.open_loop("127.0.0.1", intake.port, rate=FIXED_RATE,
                                      seconds=FIXED_S, headers=auth)
        when = await routed_at(sink, positions, set(offered.accepted_ids))
        latencies = [(when[i] - offered.sent_at[i]) * 1000 for i in offered.accepted_ids
                     if i in when]
        print(f"  fixed {FIXED_RATE:.0f}/s for {FIXED_S:.0f} s: {offered.ok}/{offered.sent} "
              f"accepted, {len(when)} routed; report->case p50 {lib.percentile(latencies, .5):.0f}"
              f" ms p99 {lib.percentile(latencies, .99):.0f} ms; HTTP p99 "
              f"{offered.percentile(.99):.0f} ms ({offered.summary()})")
        figures.update({
            "pipeline_fixed_rate": FIXED_RATE, "pipeline_fixed_accepted": offered.ok,
            "pipeline_fixed_sent": offered.sent, "pipeline_fixed_routed": len(when),
            "report_to_case_p50_ms": lib.percentile(latencies, .5),
            "report_to_case_p99_ms": lib.percentile(latencies, .99),
            "pipeline_fixed_http_p99_ms": offered.percentile(.99),
            "pipeline_generator_cpu_share": offered.cpu_share,
            "pipeline_generator_lag_p99_ms": offered.lag_p99_ms,
        })
        figures["rss_mb"] = {s: p.rss_mb() for s, p in procs.items()}
        print("  RSS after the run: " + ", ".join(f"{s} {v:.0f} MB"
                                                   for s, v in figures["rss_mb"].items()))
    finally:
        for proc in [*procs.values(), receiver]:
            lib.stop(proc)
        for name, _ in databases.values():
            await lib.drop_database(name)
        await lib.delete_topics(names)
    return figures


if __name__ == "__main__":
    print(asyncio.run(main()))
