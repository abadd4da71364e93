"""Group commit for ``POST /v1/reports``: concurrent submissions share one statement.

Each accepted report used to cost its own statement and commit: under load most of
PostgreSQL's time for intake went to the per-statement and per-commit work (parse, bind,
executor set-up, the commit record and its WAL flush), and asyncpg's round trip was a tenth
of the request. Here a request hands its row to :class:`Submissions` and waits for the
outcome; a statement starts at once while fewer than ``in_flight`` are running, and the
requests that arrive meanwhile go together in the next one (up to ``batch_size``). An idle
service sends each report alone, with no delay; a busy one sends many per commit.

The guarantees are the single statement's: a report is answered only once its statement
committed (201: durable, its event staged in the same commit); a statement is all or
nothing, so a crash loses no answered report and doubles none (a client's retry with its
``Idempotency-Key`` finds the first). If a shared statement fails for a reason that is not
the database going away (one report PostgreSQL refuses), each report of it is tried alone,
so only that one fails. A deadlock (PostgreSQL broke a cycle) is retried as before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
from prometheus_client import Gauge, Histogram

from warden.intake import persistence
from warden.shared.db import RETRYABLE_SQLSTATES, RawPool, is_database_unreachable

SUBMISSIONS = "intake_submissions"  # key of the service's Submissions in ``runtime.extras``
_Item = tuple[persistence.NewReport, dict[str, Any], asyncio.Future]
# How much the group commit shares: reports per statement (sum/count: the mean).
REPORTS_PER_STATEMENT = Histogram(
    "warden_intake_reports_per_statement",
    "Single submissions stored by one statement (the group commit of POST /v1/reports)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128))
WAITING = Gauge("warden_intake_submissions_waiting",
                "Single submissions waiting for a statement of the group commit to start")


class Submissions:
    """A :class:`~warden.shared.app.Worker`: owns the plain asyncpg pool the statements use."""

    def __init__(self, pool: RawPool, *, batch_size: int, in_flight: int,
                 attempts: int = 3) -> None:
        self._pool = pool
        self._batch_size = batch_size
        self._in_flight = in_flight
        self._attempts = attempts
        self._waiting: list[_Item] = []
        self._running: set[asyncio.Task] = set()

    async def start(self) -> None:
        await self._pool.start()

    async def stop(self) -> None:
        """After the statements under way (their requests are waiting for them)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        await self._pool.stop()

    async def insert(self, row: persistence.NewReport, event: dict[str, Any]) -> bool:
        """Store the report and stage its event (committed when this returns), unless a
        report with its idempotency key or external id exists: then False, nothing written."""
        outcome = asyncio.get_running_loop().create_future()
        self._waiting.append((row, event, outcome))
        self._send_waiting()
        WAITING.set(len(self._waiting))
        return await outcome

    def _send_waiting(self) -> None:
        while self._waiting and len(self._running) < self._in_flight:
            batch = self._waiting[:self._batch_size]
            del self._waiting[:self._batch_size]
            task = asyncio.create_task(self._settle(batch), name="intake-submissions")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._send_waiting()
        WAITING.set(len(self._waiting))

    async def _settle(self, batch: list[_Item]) -> None:
        try:
            inserted = await self._store(batch)
        except Exception as exc:  # noqa: BLE001 - every request waiting on it gets an answer
            if len(batch) == 1 or is_database_unreachable(exc):
                _fail(batch, exc)
                return
            await asyncio.gather(*(self._settle([item]) for item in batch))
            return
        for row, _, outcome in batch:
            if not outcome.done():  # a request that was cancelled meanwhile
                outcome.set_result(row.id in inserted)

    async def _store(self, batch: list[_Item]) -> set[uuid.UUID]:
        REPORTS_PER_STATEMENT.observe(len(batch))
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._pool.acquire() as connection:
                    if len(batch) == 1:
                        row, event, _ = batch[0]
                        stored = await persistence.insert_report_raw(connection, row, event)
                        return {row.id} if stored else set()
                    return await persistence.insert_reports_raw(
                        connection, [(row, event) for row, event, _ in batch])
            except asyncpg.PostgresError as exc:
                if exc.sqlstate not in RETRYABLE_SQLSTATES or attempt == self._attempts:
                    raise
        raise AssertionError("unreachable")


def _fail(batch: Iterable[_Item], exc: BaseException) -> None:
    for _, _, outcome in batch:
        if not outcome.done():
            outcome.set_exception(exc)
