"""A background pass run every few seconds (lease sweeps, SLA checks, approval expiry)."""

from __future__ import annotations

import asyncio
import contextlib

from warden.shared.observability import get_logger

log = get_logger(__name__)


class Periodic:
    """Runs ``tick`` every ``interval`` seconds; a failed pass is logged and retried next time.
    Subclasses set ``name`` (the task's name and the prefix of the failure log line)."""

    name = "periodic"

    def __init__(self, ctx, sessions, interval: float) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next pass retries
                log.warning(f"{self.name}_pass_failed", error=repr(exc))
            await asyncio.sleep(self.interval)

    async def tick(self):
        raise NotImplementedError
