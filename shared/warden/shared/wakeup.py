"""A background loop woken by PostgreSQL ``LISTEN``/``NOTIFY``, with a poll and a backoff.

Workers that drain a table (the outbox relay, notify's delivery worker) run rounds: a round
does one batch of work and says how long the loop may wait before the next one (0: at once,
the batch was full). Between rounds the loop waits for whichever comes first:

* a ``NOTIFY`` on the worker's channel (sent in the transaction that added work, so it
  arrives once that work is committed and visible),
* ``wake()`` called in this process,
* the wait the round asked for (the next due time, or the poll interval).

A worker whose work nobody waits on as it happens may *linger*: after a wake-up it waits
``linger_s`` more before its round, so that work added meanwhile shares the round (at a few
items a second, one round for many instead of one each). A poll or a full batch does not
linger: work found by them has waited already.

``LISTEN`` only makes a worker prompt: if the listening connection cannot be opened, or is
lost (the database restarted), the loop keeps polling and opens it again before each wait.
A round that raises is retried after an exponential backoff with jitter (a plain sleep:
notifications during an outage would only make it spin), and the loop never dies of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import sqlalchemy as sa

from warden.shared.backoff import backoff_delay
from warden.shared.db import once_per_transaction
from warden.shared.observability import get_logger

log = get_logger(__name__)

Round = Callable[[], Awaitable[float]]
FailureHook = Callable[[BaseException, int], None]
RecoveryHook = Callable[[int], None]


class WokenLoop:
    """Runs ``round`` for ever, as described in the module docstring.

    ``on_failure(exc, failures)`` is called after each failed round (``failures`` counts the
    failures in a row), ``on_recovered(failures)`` after the first good round that follows.
    Without hooks a failure is logged at warning as ``<name>_round_failed``.
    """

    def __init__(self, *, name: str, dsn: str, channel: str, round: Round,
                 on_failure: FailureHook | None = None,
                 on_recovered: RecoveryHook | None = None,
                 backoff_initial_s: float = 0.2, backoff_max_s: float = 5.0,
                 linger_s: float = 0.0) -> None:
        self.name = name
        self._linger_s = linger_s
        self._dsn = dsn
        self._channel = channel
        self._round = round
        self._on_failure = on_failure or self._log_failure
        self._on_recovered = on_recovered
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.listening:
            assert self._listener is not None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), 5)
        self._listener = None

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(self._dsn, timeout=5)
            await self._listener.add_listener(self._channel, lambda *_: self._wake.set())
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            # Polling still finds everything; LISTEN only makes it prompt.
            log.warning(f"{self.name}_listen_failed", error=str(exc))
            if self._listener is not None:
                self._listener.terminate()
            self._listener = None

    def _log_failure(self, exc: BaseException, failures: int) -> None:
        log.warning(f"{self.name}_round_failed", error=repr(exc), failures=failures)

    async def _run(self) -> None:
        failures = 0
        while True:
            # Cleared before the round: work added while it runs wakes the next one.
            self._wake.clear()
            try:
                wait = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop outlives any one failure
                failures += 1
                self._on_failure(exc, failures)
                await asyncio.sleep(backoff_delay(failures, initial=self._backoff[0],
                                                  maximum=self._backoff[1]))
                continue
            if failures and self._on_recovered is not None:
                self._on_recovered(failures)
            failures = 0
            if wait <= 0:
                continue
            if not self.listening:
                await self._listen()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
                if self._linger_s:
                    await asyncio.sleep(self._linger_s)


class CommitWake:
    """Wakes the workers of ``channel`` once a transaction that gave them work commits.

    Workers of this process (registered with ``in_process``) are called after the commit;
    only a process without any (a CLI command) has the transaction ``NOTIFY`` the channel.
    Not a ``NOTIFY`` from the services themselves: PostgreSQL commits the transactions that
    notified one at a time, under one lock for the whole cluster held through each commit's
    WAL flush, so every service's hot path queued behind the others' disk writes (py-spy and
    ``pg_stat_activity`` under load: intake's inserts waiting on ``Lock: object``). Workers
    in other processes still find the work by polling, and by ``LISTEN`` when a CLI wrote it.
    """

    def __init__(self, channel: str) -> None:
        self._key = f"warden.wake.{channel}"
        self._local: list[Callable[[], None]] = []
        self._notify = sa.select(sa.func.pg_notify(channel, ""))

    def in_process(self, wake: Callable[[], None]) -> None:
        self._local.append(wake)

    def committed(self) -> None:
        """A statement outside any session (autocommitted) gave the workers work."""
        for wake in self._local:
            wake()

    async def after_commit(self, session) -> None:
        """Once per transaction of ``session`` (an ``AsyncSession``)."""
        transaction, woken = once_per_transaction(session, self._key)
        if woken:
            return
        session.info[self._key] = (transaction, True)
        if not self._local:
            await session.execute(self._notify)  # delivered by PostgreSQL at commit
            return
        sa.event.listen(session.sync_session, "after_commit", lambda _: self.committed(),
                        once=True)
