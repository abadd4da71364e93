"""Transactional outbox: events are rows written with the state change, then relayed to Kafka.

``Outbox.emit`` adds the row in the caller's transaction, and the relay wakes the moment the
transaction commits (it never sees an uncommitted event; see ``warden.shared.wakeup
.CommitWake``). The relay also polls, so a missed wake-up only delays, never loses, an event.

Order per key is commit order. The relay publishes in ``seq`` order, and ``seq`` is taken
at insert time; two transactions staging events of one key could otherwise commit in the
other order than they inserted (the first to insert commits last), and the events would
go out in insert order, contradicting the state the database ended with. So staging an
event first takes a transaction-scoped advisory lock on its key: a second transaction on
the same key waits until the first commits or rolls back, hence inserts (gets its ``seq``)
after it. Relay-side alternatives (publishing only rows older than every transaction in
flight, by ``pg_snapshot_xmin``) need an xid column in every service's outbox and hold
back every key behind the slowest transaction; the lock costs only writers of the same
subject, which mostly contend on the same rows anyway. Two transactions staging the same
two keys in opposite orders can deadlock; PostgreSQL aborts one (SQLSTATE 40P01), which
the consumers retry and the HTTP edge answers with a 503, like any such conflict.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.bus.kafka import OutgoingRecord, Publisher
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import topic_for
from warden.shared.db import ArrayInsert, OutboxRecord, asyncpg_dsn
from warden.shared.observability import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    correlation_id_var,
    get_logger,
)
from warden.shared.settings import ServiceSettings
from warden.shared.wakeup import CommitWake, WokenLoop

log = get_logger(__name__)

NOTIFY_CHANNEL = "warden_outbox"
# One relay publishes at a time per database, which keeps per-key order across replicas.
RELAY_LOCK_KEY = 0x5741524445  # "WARDE"
_outbox = OutboxRecord.__table__
_KEYS_LOCKED = "warden.outbox.keys_locked"
# First key of the two-int advisory locks on event keys (a key space apart from the relay's).
KEY_LOCK_SPACE = 0x5744  # "WD"
_LOCK_KEY = sa.select(sa.func.pg_advisory_xact_lock(
    KEY_LOCK_SPACE, sa.func.hashtext(sa.bindparam("key", type_=sa.Text))))
# Several keys at once, in the order of their lock ids (the OFFSET keeps the sort below the
# lock calls): two transactions locking overlapping sets of keys this way cannot deadlock.
# In the insert's WHERE it is evaluated once, before the first row draws its ``seq``: the
# locks and the rows in one statement.
_LOCKING_KEYS = (
    "(SELECT count(*) FROM (SELECT pg_advisory_xact_lock(:key_lock_space, h) FROM ("
    "SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:lock_keys AS text[])) AS k "
    "ORDER BY h OFFSET 0) AS ordered) AS locked) >= 0")
_INSERT = _outbox.insert()
_INSERT_MANY = ArrayInsert(_outbox, ["event_id", "topic", "key", "value", "headers"],
                           where=_LOCKING_KEYS)
# The relay's statements, built once. The published rows by an IN list, not an array: a
# prepared ``seq = ANY($1)`` gets a generic plan after five runs, and one planned while the
# outbox was nearly empty (a new database) scans the whole table at every batch until the
# next ANALYZE; the IN lists of each length are planned for the table as it then is.
# The relay's lock is tried in the statement that reads the batch (once, before the scan):
# a relay that does not hold it reads nothing.
_TRY_RELAY_LOCK = sa.select(sa.func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY)).scalar_subquery()
_UNPUBLISHED = (sa.select(_outbox.c.seq, _outbox.c.topic, _outbox.c.key, _outbox.c.value,
                          _outbox.c.headers)
                .where(_TRY_RELAY_LOCK, _outbox.c.published_at.is_(None))
                .order_by(_outbox.c.seq)
                .limit(sa.bindparam("limit")))
_MARK_PUBLISHED = (sa.update(_outbox)
                   .where(_outbox.c.seq.in_(sa.bindparam("seqs", expanding=True)))
                   .values(published_at=sa.func.now()))


def kafka_headers(event: CloudEvent) -> dict[str, str]:
    headers = {"ce_type": event.type, "ce_id": event.id, "content-type": "application/cloudevents+json"}
    if event.correlationid:
        headers["correlationid"] = event.correlationid
    if event.traceparent:
        headers["traceparent"] = event.traceparent
    return headers


class Outbox:
    """Stages events in the current database transaction."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self.wake = CommitWake(NOTIFY_CHANNEL)  # the relay, once a transaction commits

    async def emit(self, session: AsyncSession, *, type: str, key: str, payload: BaseModel,
                   subject: str | None = None) -> CloudEvent:
        event = self.event(type=type, key=key, payload=payload, subject=subject)
        await self.stage(session, event, key=key)
        return event

    def event(self, *, type: str, key: str, payload: BaseModel,
              subject: str | None = None) -> CloudEvent:
        return new_event(type=type, source=self._settings.source, subject=subject or key,
                         payload=payload, correlation_id=correlation_id_var.get())

    def row(self, event: CloudEvent, *, key: str, topic: str | None = None) -> dict[str, Any]:
        """The outbox row's values, for a statement that stages it (``stage``, or a use case's
        own statement built with ``stage_from``)."""
        return {
            "event_id": event.id,
            "topic": self._settings.topic(topic or topic_for(event.type)),
            "key": key,
            "value": event.to_bytes(),
            "headers": kafka_headers(event),
        }

    async def stage(self, session: AsyncSession, event: CloudEvent, *, key: str,
                    topic: str | None = None) -> None:
        transaction = session.sync_session.get_transaction()
        await self._lock_key(session, transaction, key)
        await session.execute(_INSERT, self.row(event, key=key, topic=topic))
        await self.wake.after_commit(session)

    async def stage_many(self, session: AsyncSession, events: Sequence[tuple[CloudEvent, str]],
                         *, topic: str | None = None) -> None:
        """Stage several (event, key) pairs in ONE statement whatever their number: the keys'
        locks (taken in one order, so two such batches cannot deadlock) and the rows, and the
        relay's wake-up once per transaction."""
        if not events:
            return
        transaction = session.sync_session.get_transaction()
        locked = self._keys_locked(session, transaction)
        keys = sorted({key for _, key in events} - locked)
        # One insert, the rows numbered (``seq``) in the order given: per key, the relay's.
        await _INSERT_MANY.execute(session, [self.row(event, key=key, topic=topic)
                                             for event, key in events],
                                   lock_keys=keys, key_lock_space=KEY_LOCK_SPACE)
        locked.update(keys)
        await self.wake.after_commit(session)

    @staticmethod
    def _keys_locked(session: AsyncSession, transaction) -> set[str]:
        locked = session.info.get(_KEYS_LOCKED)
        if locked is None or locked[0] is not transaction:
            locked = session.info[_KEYS_LOCKED] = (transaction, set())
        return locked[1]

    @classmethod
    async def _lock_key(cls, session: AsyncSession, transaction, key: str) -> None:
        """Wait for any other transaction that staged an event of ``key`` (see the module doc)."""
        locked = cls._keys_locked(session, transaction)
        if key not in locked:
            await session.execute(_LOCK_KEY, {"key": key})
            locked.add(key)


def stage_from(source: sa.CTE, *, prefix: str = "event_") -> sa.CTE:
    """A CTE that stages one outbox row for each row of ``source``: with ``source`` an
    ``INSERT .. ON CONFLICT DO NOTHING RETURNING``, the event is staged exactly when the
    insert happened, in the same statement. Its values are bound as ``<prefix><column>``
    (``Outbox.row`` gives them). The caller wakes the relay: ``outbox.wake.after_commit`` in
    a session, ``outbox.wake.committed()`` after an autocommitted statement.

    The row's ``seq`` is drawn only after the key's advisory lock is held (the lock is in the
    SELECT that feeds the insert), so per-key commit order is ``seq`` order here too."""
    columns = ["event_id", "topic", "key", "value", "headers"]
    key_lock = (sa.select(sa.true())
                .select_from(sa.func.pg_advisory_xact_lock(
                    KEY_LOCK_SPACE, sa.func.hashtext(sa.bindparam(prefix + "key", type_=sa.Text))))
                .scalar_subquery())
    values = sa.select(*[sa.bindparam(prefix + c, type_=_outbox.c[c].type) for c in columns])
    return (_outbox.insert().from_select(columns, values.select_from(source).where(key_lock))
            .returning(_outbox.c.seq).cte(f"{prefix}staged"))


class PublishFailed(Exception):
    """Kafka did not acknowledge some rows of a batch (they stay in the outbox)."""

    def __init__(self, failed: int, cause: BaseException) -> None:
        super().__init__(f"{failed} event(s) not acknowledged: {cause!r}")
        self.failed = failed


class OutboxRelay:
    """Publishes committed outbox rows in order, marks them published, prunes old ones.

    It owns its :class:`Publisher`, which replaces its producer after a failed send (a
    broker restart can leave an idempotent producer refused for ever); rows not acknowledged
    stay unpublished and go out again, in ``seq`` order, on the next attempt.
    """

    def __init__(self, engine: AsyncEngine, publisher: Publisher, settings: ServiceSettings,
                 retention: timedelta = timedelta(hours=24)) -> None:
        self._engine = engine
        self._publisher = publisher
        self._settings = settings
        self._retention = retention
        self._loop = WokenLoop(name="outbox_relay", dsn=asyncpg_dsn(settings.database_url),
                               channel=NOTIFY_CHANNEL, round=self._round,
                               on_failure=self._failed, on_recovered=self._recovered,
                               backoff_initial_s=0.2, backoff_max_s=5.0,
                               linger_s=settings.outbox_linger_s)
        self._next_housekeeping = 0.0
        self._last_failed = True  # not healthy before the first successful round
        self._sending_since: float | None = None

    @property
    def healthy(self) -> bool:
        """The last round succeeded and the current one (if any) is not stuck waiting on Kafka."""
        if self._last_failed:
            return False
        if self._sending_since is None:
            return True
        waited = asyncio.get_running_loop().time() - self._sending_since
        return waited < self._settings.outbox_stall_after_s

    @property
    def status(self) -> str:
        if self.healthy:
            return "publishing"
        if self._sending_since is not None and not self._last_failed:
            return "waiting for Kafka to acknowledge"
        return "cannot publish"

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._publisher.stop()

    def wake(self) -> None:
        self._loop.wake()

    async def _round(self) -> float:
        """Publish one batch; at once again if it was full, else after the poll interval (or
        the relay's wake-up, whichever comes first)."""
        published = await self.publish_batch()
        self._last_failed = False
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_housekeeping:
            await self._housekeeping()
            self._next_housekeeping = loop.time() + 5
        if published >= self._settings.outbox_batch_size:
            return 0.0
        return self._settings.outbox_poll_interval_s

    def _failed(self, exc: BaseException, failures: int) -> None:
        self._last_failed = True
        # Once at warning; the retries of the same outage at info (a broker loss is already
        # logged once as such).
        (log.warning if failures == 1 else log.info)(
            "outbox_publish_failed", error=repr(exc), failures=failures)

    @staticmethod
    def _recovered(failures: int) -> None:
        log.info("outbox_publishing_again", failures=failures)

    async def publish_batch(self) -> int:
        """Publish one batch in order; a row is marked published only once Kafka acknowledged it.

        Rows that failed stay unpublished (``PublishFailed`` is raised after the acknowledged
        ones are marked). Per key this keeps order: the rows of one key go to one partition,
        where the idempotent producer refuses everything after a failed batch, so what was
        acknowledged is always a prefix of that key's rows.
        """
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_UNPUBLISHED,
                                       {"limit": self._settings.outbox_batch_size})).all()
            if not rows:
                return 0
            self._sending_since = asyncio.get_running_loop().time()
            try:
                outcomes = await self._publisher.publish([
                    OutgoingRecord(row.topic, row.value, row.key.encode(),
                                   [(k, v.encode()) for k, v in row.headers.items()])
                    for row in rows])
            finally:
                self._sending_since = None
            acknowledged = [row for row, failure in zip(rows, outcomes, strict=True)
                            if failure is None]
            if acknowledged:
                await conn.execute(_MARK_PUBLISHED, {"seqs": [r.seq for r in acknowledged]})
        for row in acknowledged:
            EVENTS_PUBLISHED.labels(self._settings.service_name, row.topic).inc()
        failures = [failure for failure in outcomes if failure is not None]
        if failures:
            raise PublishFailed(len(failures), failures[0])
        return len(rows)

    async def _housekeeping(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(_outbox).where(
                _outbox.c.published_at < sa.func.now() - self._retention))
            backlog = await conn.scalar(sa.select(sa.func.count()).select_from(_outbox)
                                        .where(_outbox.c.published_at.is_(None)))
        OUTBOX_BACKLOG.labels(self._settings.service_name).set(backlog or 0)
