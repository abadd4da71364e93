"""Background workers of the routing service (started and stopped by the app's lifespan).

* ``SlaWatcher``: announces cases at risk and overdue (``cases.sla``, once per case and due
  time), raises priorities as due times near, and keeps the queue gauges current (the
  legal-deadline gauge included).
* ``LeaseSweeper``: returns cases whose lease ran out to their queue (claims also do this
  lazily; the sweeper keeps the queue figures and the case history honest in between).
* ``PolicyReloadOnSignal``: ``kill -HUP`` re-reads the routing policy, like the reload endpoint.

Every batch is one transaction and locks its rows with ``SKIP LOCKED``, so several replicas
can run the same workers without announcing anything twice.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import metrics, service
from warden.routing.models import OPEN, Case
from warden.routing.service import Routing
from warden.shared.clock import utcnow
from warden.shared.errors import WardenError
from warden.shared.observability import get_logger
from warden.shared.periodic import Periodic as SharedPeriodic

log = get_logger(__name__)

Batch = Callable[[Routing, AsyncSession], Awaitable[int]]


class Periodic(SharedPeriodic):
    """A routing pass; ``drain`` runs a batch use case until the backlog is gone."""

    async def drain(self, batch: Batch) -> int:
        """Run ``batch`` in its own transaction until it finds less than a full batch."""
        total = 0
        while True:
            async with self.sessions() as session, session.begin():
                done = await batch(self.ctx, session)
            total += done
            if done < self.ctx.settings.sla_batch_size:
                return total


class SlaWatcher(Periodic):
    name = "sla_watcher"
    # What "now" is for due times: replaceable, so tests drive time instead of racing it.
    clock: Callable[[], datetime] = staticmethod(utcnow)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._legal_queues: set[str] = set()  # every queue the legal gauge was set for

    async def tick(self) -> None:
        now = self.clock()
        # Overdue first: a case that skipped its at-risk window is announced once, as overdue.
        await self.drain(lambda ctx, s: service.announce_sla(ctx, s, "overdue", now))
        await self.drain(lambda ctx, s: service.announce_sla(ctx, s, "at_risk", now))
        await self.drain(lambda ctx, s: service.refresh_priorities(ctx, s, now))
        async with self.sessions() as session:
            await service.publish_queue_metrics(self.ctx, session, now)
            await self.publish_legal_deadlines(session, now)

    async def publish_legal_deadlines(self, session: AsyncSession, now: datetime) -> None:
        """``warden_routing_legal_deadline_at_risk`` per queue: open cases whose legal
        deadline falls within the at-risk margin, or has passed undecided. Every queue of
        the policy, and every queue that had such cases, is set (0 once they are decided)."""
        margin = timedelta(seconds=self.ctx.settings.sla_at_risk_margin_s)
        near = Case.legal_deadline <= now + margin
        rows = (await session.execute(
            sa.select(Case.queue, sa.func.count()).where(Case.status == OPEN, near)
            .group_by(Case.queue))).all()
        counts = {queue: count for queue, count in rows}
        self._legal_queues |= {*self.ctx.policy.policy.queues, *counts}
        for queue in self._legal_queues:
            metrics.LEGAL_DEADLINE_AT_RISK.labels(queue).set(counts.get(queue, 0))


class LeaseSweeper(Periodic):
    name = "lease_sweeper"

    async def tick(self) -> None:
        # Judged by the database's clock (see service.leases), so no time is passed in.
        returned = await self.drain(service.return_expired_leases)
        if returned:
            log.info("expired_leases_returned", cases=returned)


class PolicyReloadOnSignal:
    """SIGHUP reloads the policy (a refused file is logged; the policy in force stays)."""

    def __init__(self, ctx: Routing, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self._installed = False
        self._pending: set[asyncio.Task] = set()

    async def start(self) -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_signal)
            self._installed = True
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            # Not the main thread (an app hosted in-process) or no signals on this platform.
            log.info("policy_sighup_unavailable", error=str(exc))

    async def stop(self) -> None:
        if self._installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._installed = False
        for task in list(self._pending):
            task.cancel()

    def _on_signal(self) -> None:
        task = asyncio.create_task(self.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def reload(self) -> service.ReloadOutcome | None:
        try:
            async with self.sessions() as session:
                outcome = await service.reload_policy(self.ctx, session, utcnow())
        except WardenError as exc:
            log.error("routing_policy_reload_refused", detail=exc.detail, errors=exc.errors)
            return None
        log.info("routing_policy_reload", version=outcome.current.version,
                 changed=outcome.changed)
        return outcome
