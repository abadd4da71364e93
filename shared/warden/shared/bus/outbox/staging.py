"""Staging events: the outbox rows written in the caller's transaction, each key's advisory
lock held before its row draws its ``seq`` (the package's docstring says why)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import topic_for
from warden.shared.db import ArrayInsert, OutboxRecord
from warden.shared.observability import correlation_id_var
from warden.shared.settings import ServiceSettings
from warden.shared.wakeup import CommitWake

NOTIFY_CHANNEL = "warden_outbox"
_outbox = OutboxRecord.__table__
_KEYS_LOCKED = "warden.outbox.keys_locked"
# First key of the two-int advisory locks on event keys (a key space apart from the relay's).
KEY_LOCK_SPACE = 0x5744  # "WD"
# The keys' locks, in the order of their lock ids (the OFFSET keeps the sort below the lock
# calls): two transactions locking overlapping sets of keys this way cannot deadlock. In the
# insert's WHERE it is evaluated once, before the first row draws its ``seq``: the locks and
# the rows in one statement.
_LOCKING_KEYS = (
    "(SELECT count(*) FROM (SELECT pg_advisory_xact_lock(:key_lock_space, h) FROM ("
    "SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:lock_keys AS text[])) AS k "
    "ORDER BY h OFFSET 0) AS ordered) AS locked) >= 0")
_INSERT_MANY = ArrayInsert(_outbox, ["event_id", "topic", "key", "value", "headers"],
                           where=_LOCKING_KEYS)


def kafka_headers(event: CloudEvent) -> dict[str, str]:
    headers = {"ce_type": event.type, "ce_id": event.id,
               "content-type": "application/cloudevents+json"}
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
        """The outbox row's values, for a statement that stages it (``stage_many``, or a use
        case's own statement built with ``stage_from``)."""
        return {
            "event_id": event.id,
            "topic": self._settings.topic(topic or topic_for(event.type)),
            "key": key,
            "value": event.to_bytes(),
            "headers": kafka_headers(event),
        }

    async def stage(self, session: AsyncSession, event: CloudEvent, *, key: str,
                    topic: str | None = None) -> None:
        await self.stage_many(session, [(event, key)], topic=topic)

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
