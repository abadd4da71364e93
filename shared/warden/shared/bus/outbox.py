"""Transactional outbox: events are rows written with the state change, then relayed to Kafka.

``Outbox.emit`` adds the row and a ``pg_notify`` in the caller's transaction, so the
relay wakes the moment the transaction commits (and never sees an uncommitted event).
The relay also polls, so a missed notification only delays, never loses, an event.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import topic_for
from warden.shared.db import OutboxRecord, asyncpg_dsn
from warden.shared.observability import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    correlation_id_var,
    get_logger,
)
from warden.shared.settings import ServiceSettings

log = get_logger(__name__)

NOTIFY_CHANNEL = "warden_outbox"
# One relay publishes at a time per database, which keeps per-key order across replicas.
RELAY_LOCK_KEY = 0x5741524445  # "WARDE"
_outbox = OutboxRecord.__table__
_NOTIFIED_IN = "warden.outbox.notified_in"
_INSERT = _outbox.insert()
# The first event of a transaction also queues the relay's wake-up, in the same statement
# (PostgreSQL delivers a NOTIFY only at commit): one round trip, not two.
_INSERT_AND_NOTIFY = _outbox.insert().returning(sa.func.pg_notify(NOTIFY_CHANNEL, ""))


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
        # One wake-up per transaction is enough: the relay publishes everything committed.
        transaction = session.sync_session.get_transaction()
        first = session.info.get(_NOTIFIED_IN) is not transaction
        await session.execute(_INSERT_AND_NOTIFY if first else _INSERT,
                              self.row(event, key=key, topic=topic))
        if first:
            session.info[_NOTIFIED_IN] = transaction


def stage_from(source: sa.CTE, *, prefix: str = "event_") -> sa.CTE:
    """A CTE that stages one outbox row (and the relay's wake-up) for each row of ``source``:
    with ``source`` an ``INSERT .. ON CONFLICT DO NOTHING RETURNING``, the event is staged
    exactly when the insert happened, in the same statement. Its values are bound as
    ``<prefix><column>`` (``Outbox.row`` gives them)."""
    columns = ["event_id", "topic", "key", "value", "headers"]
    values = sa.select(*[sa.bindparam(prefix + c, type_=_outbox.c[c].type) for c in columns])
    return (_outbox.insert().from_select(columns, values.select_from(source))
            .returning(sa.func.pg_notify(NOTIFY_CHANNEL, "").label("notified"))
            .cte(f"{prefix}staged"))


class OutboxRelay:
    """Publishes committed outbox rows in order, marks them published, prunes old ones."""

    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, settings: ServiceSettings,
                 retention: timedelta = timedelta(hours=24)) -> None:
        self._engine = engine
        self._producer = producer
        self._settings = settings
        self._retention = retention
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._listener: asyncpg.Connection | None = None
        self.healthy = False

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener and not self._listener.is_closed():
            await self._listener.close()

    def wake(self) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self._settings.database_url))
            await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still delivers everything; LISTEN only makes it prompt.
            log.warning("outbox_listen_failed", error=str(exc))
            self._listener = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = 0.0
        failures = 0
        while True:
            self._wake.clear()
            try:
                published = await self.publish_batch()
                self.healthy, failures = True, 0
                if loop.time() >= next_housekeeping:
                    await self._housekeeping()
                    next_housekeeping = loop.time() + 5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep relaying whatever went wrong
                failures += 1
                self.healthy = False
                log.warning("outbox_publish_failed", error=repr(exc), failures=failures)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
                continue
            if published >= self._settings.outbox_batch_size:
                continue
            if self._listener is None or self._listener.is_closed():
                await self._listen()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.outbox_poll_interval_s)

    async def publish_batch(self) -> int:
        """Publish one batch in order; rows are marked only after Kafka acknowledged them all."""
        async with self._engine.begin() as conn:
            locked = await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY)))
            if not locked:
                return 0
            rows = (await conn.execute(
                sa.select(_outbox.c.seq, _outbox.c.topic, _outbox.c.key, _outbox.c.value,
                          _outbox.c.headers)
                .where(_outbox.c.published_at.is_(None))
                .order_by(_outbox.c.seq)
                .limit(self._settings.outbox_batch_size)
            )).all()
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row.topic, value=row.value, key=row.key.encode(),
                    headers=[(k, v.encode()) for k, v in row.headers.items()],
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            await conn.execute(
                sa.update(_outbox).where(_outbox.c.seq.in_([r.seq for r in rows]))
                .values(published_at=sa.func.now())
            )
        for row in rows:
            EVENTS_PUBLISHED.labels(self._settings.service_name, row.topic).inc()
        return len(rows)

    async def _housekeeping(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(_outbox).where(
                _outbox.c.published_at < sa.func.now() - self._retention))
            backlog = await conn.scalar(sa.select(sa.func.count()).select_from(_outbox)
                                        .where(_outbox.c.published_at.is_(None)))
        OUTBOX_BACKLOG.labels(self._settings.service_name).set(backlog or 0)
