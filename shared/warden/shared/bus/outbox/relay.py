"""Publishing: the relay reads committed outbox rows in ``seq`` order, publishes them and marks
them published; one relay at a time per database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from warden.shared.bus.kafka import OutgoingRecord, Publisher
from warden.shared.bus.outbox.staging import NOTIFY_CHANNEL
from warden.shared.db import OutboxRecord, asyncpg_dsn
from warden.shared.observability import EVENTS_PUBLISHED, OUTBOX_BACKLOG, get_logger
from warden.shared.settings import ServiceSettings
from warden.shared.wakeup import WokenLoop

log = get_logger(__name__)

# One relay publishes at a time per database, which keeps per-key order across replicas.
RELAY_LOCK_KEY = 0x5741524445  # "WARDE"
_outbox = OutboxRecord.__table__
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
