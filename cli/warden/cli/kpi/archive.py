"""The KPI archive: every CloudEvent of the business topics, kept in a DuckDB database file.

Events are stored generically (type, subject, time, id, the ``data`` JSON) so a new event
type needs only new SQL, never a new table. The event id is the primary key and the next
offset of each partition is stored in the same transaction as the events read before it,
so catching up again, replaying a topic or re-reading it from the beginning never counts an
event twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from aiokafka import AIOKafkaConsumer, TopicPartition

from warden.shared.bus.dlq import partitions_of
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import InvalidMessage
from warden.shared.settings import ServiceSettings

# The topics whose events are facts worth keeping (reports.raw is upstream input, DLQs are
# failures: neither is a business event).
ARCHIVED_TOPICS = (
    topics.REPORTS_NORMALIZED,
    topics.CASES_ROUTED,
    topics.CASES_SLA,
    topics.DECISIONS_RECORDED,
    topics.APPEALS_FILED,
    topics.NOTIFICATIONS_DELIVERED,
)
DEFAULT_ARCHIVE = Path(".local/kpi/warden-kpi.duckdb")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id            VARCHAR PRIMARY KEY,
    type          VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    subject       VARCHAR,
    time          TIMESTAMPTZ NOT NULL,
    correlationid VARCHAR,
    topic         VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset  BIGINT NOT NULL,
    data          JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_offsets (
    topic         VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset   BIGINT NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
"""
_INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SAVE_OFFSET = "INSERT OR REPLACE INTO archive_offsets VALUES (?, ?, ?)"


def archive_path(explicit: Path | None = None) -> Path:
    return explicit or Path(os.environ.get("WARDEN_KPI_ARCHIVE", DEFAULT_ARCHIVE))


def open_archive(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"no KPI archive at {path} (run: bin/warden kpi archive)")
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    connection.execute(SCHEMA)
    return connection


@dataclass
class ArchiveRun:
    read: int = 0
    added: int = 0
    unreadable: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)


def _row(logical_topic: str, record) -> tuple | None:
    try:
        event = CloudEvent.from_bytes(record.value)
    except InvalidMessage:
        return None
    return (event.id, event.type, event.source, event.subject, event.time, event.correlationid,
            logical_topic, record.partition, record.offset, json.dumps(event.data))


async def archive_topics(connection: duckdb.DuckDBPyConnection, settings: ServiceSettings, *,
                         from_beginning: bool = False, batch_size: int = 2000,
                         on_start: Callable[[int], None] = lambda total: None,
                         on_progress: Callable[[int], None] = lambda n: None) -> ArchiveRun:
    """Read every archived topic from the stored offsets up to the end offsets seen at start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                client_id="warden-kpi-archive")
    outcome = ArchiveRun()
    try:
        await consumer.start()  # inside: a broker that cannot be reached still closes it
        logical = {settings.topic(t): t for t in ARCHIVED_TOPICS}
        partitions = [TopicPartition(name, p) for name in logical
                      for p in await partitions_of(settings.kafka_bootstrap, name)]
        if not partitions:
            return outcome
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        stored = {} if from_beginning else {
            (topic, part): offset for topic, part, offset in connection.execute(
                "SELECT topic, kafka_partition, next_offset FROM archive_offsets").fetchall()}
        begins = {tp: max(starts[tp], stored.get((logical[tp.topic], tp.partition), 0))
                  for tp in partitions}
        pending = [tp for tp in partitions if begins[tp] < ends[tp]]
        for tp in pending:
            consumer.seek(tp, begins[tp])
        on_start(sum(ends[tp] - begins[tp] for tp in pending))
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=batch_size)
            for tp, records in batches.items():
                records = [r for r in records if r.offset < ends[tp]]
                if records:
                    _store(connection, logical[tp.topic], tp.partition, records, outcome)
                    on_progress(len(records))
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.remove(tp)
    finally:
        await consumer.stop()
    return outcome


def _store(connection: duckdb.DuckDBPyConnection, topic: str, partition: int, records: list,
           outcome: ArchiveRun) -> None:
    rows = [row for row in (_row(topic, r) for r in records) if row is not None]
    before = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    connection.execute("BEGIN TRANSACTION")
    try:
        if rows:
            connection.executemany(_INSERT_EVENT, rows)
        connection.execute(_SAVE_OFFSET, (topic, partition, records[-1].offset + 1))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    added = connection.execute("SELECT count(*) FROM events").fetchone()[0] - before
    outcome.read += len(records)
    outcome.unreadable += len(records) - len(rows)
    outcome.added += added
    outcome.per_topic[topic] = outcome.per_topic.get(topic, 0) + added
