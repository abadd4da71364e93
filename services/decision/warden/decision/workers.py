"""Background worker of the decision service: pending decisions that were not approved in
time expire, and their cases go back to their queues.

Each pass is one transaction; several replicas may run it (each decision is locked and
re-checked before it expires, so none expires twice).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision.service import DecisionContext
from warden.decision.service.approvals import expire_pending
from warden.shared.observability import get_logger

log = get_logger(__name__)


class ApprovalExpiry:
    def __init__(self, ctx: DecisionContext, sessions: async_sessionmaker[AsyncSession],
                 interval: float) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="approval-expiry")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def tick(self) -> int:
        async with self.sessions() as session, session.begin():
            return await expire_pending(self.ctx, session, datetime.now(UTC))

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next pass retries
                log.warning("approval_expiry_pass_failed", error=repr(exc))
            await asyncio.sleep(self.interval)
