"""A reviewer's hold on a case: claim the next one, renew, release, transfer to another queue;
and the sweeper that returns expired leases to their queue.

Leases are granted and judged by the database's clock (``persistence.database_now``, the
transaction's ``now()``), never the process's: instances whose host clocks drift apart would
otherwise hand a live lease to a second reviewer, or keep an expired one from the queue.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence
from warden.routing.models import OPEN, Case
from warden.routing.service.context import (
    Routing,
    after_commit,
    emit_routed,
    known_queue,
    require_queue_skills,
)
from warden.shared.auth import Reviewer
from warden.shared.errors import Conflict, NotFound


async def claim_next(ctx: Routing, session: AsyncSession, queue: str, reviewer: Reviewer, *,
                     lease_seconds: int | None) -> Case | None:
    known_queue(ctx, queue)
    require_queue_skills(ctx, reviewer, queue)
    now = await persistence.database_now(session)
    until = domain.lease_until(now, lease_seconds, default_seconds=ctx.settings.lease_seconds,
                               max_seconds=ctx.settings.max_lease_seconds)
    case = await persistence.lock_next_claimable(session, queue, reviewer.id)
    if case is None:
        after_commit(session, lambda: metrics.CLAIMS.labels(queue, "empty").inc())
        return None
    if case.assignee_id is not None:
        await _record_expiry(session, case, now)
    case.assignee_id = reviewer.id
    case.lease_expires_at = until
    case.updated_at = now
    await persistence.record_history(session, case, "claimed", actor=reviewer.id, at=now,
                                     detail=f"lease until {until.isoformat()}")
    after_commit(session, lambda: metrics.CLAIMS.labels(queue, "claimed").inc())
    return case


async def _record_expiry(session: AsyncSession, case: Case, now: datetime) -> None:
    detail = f"lease of {case.assignee_id} ran out at {case.lease_expires_at.isoformat()}"
    persistence.clear_lease(case)
    await persistence.record_history(session, case, "lease_expired", detail=detail, at=now)
    queue = case.queue
    after_commit(session, lambda: metrics.LEASES_EXPIRED.labels(queue).inc())


async def _locked_open_case(session: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await persistence.lock_case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.status != OPEN:
        raise Conflict(f"case {case_id} is {case.status}")
    return case


async def release(ctx: Routing, session: AsyncSession, case_id: uuid.UUID, reviewer: Reviewer,
                  *, reason: str | None) -> Case:
    now = await persistence.database_now(session)
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=True)
    previous = case.assignee_id
    persistence.clear_lease(case)
    case.updated_at = now
    detail = f"released (held by {previous})" + (f": {reason}" if reason else "")
    await persistence.record_history(session, case, "released", actor=reviewer.id,
                                     detail=detail, at=now)
    return case


async def renew_lease(ctx: Routing, session: AsyncSession, case_id: uuid.UUID,
                      reviewer: Reviewer, *, lease_seconds: int | None) -> Case:
    now = await persistence.database_now(session)
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=False)
    case.lease_expires_at = domain.lease_until(
        now, lease_seconds, default_seconds=ctx.settings.lease_seconds,
        max_seconds=ctx.settings.max_lease_seconds)
    case.updated_at = now
    await persistence.record_history(session, case, "lease_renewed", actor=reviewer.id, at=now,
                                     detail=f"lease until {case.lease_expires_at.isoformat()}")
    return case


async def transfer(ctx: Routing, session: AsyncSession, case_id: uuid.UUID, reviewer: Reviewer,
                   *, to_queue: str, reason: str) -> Case:
    now = await persistence.database_now(session)
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=True)
    change = domain.transfer(ctx.policy.policy, persistence.state_of(case), to_queue)
    persistence.apply_state(case, change.state, now)
    persistence.clear_lease(case)
    detail = f"{change.detail} by {reviewer.id}: {reason}"
    await persistence.record_history(session, case, domain.TRANSFERRED, actor=reviewer.id,
                                     detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=domain.TRANSFERRED, detail=detail, now=now)
    return case


async def return_expired_leases(ctx: Routing, session: AsyncSession) -> int:
    now = await persistence.database_now(session)
    cases = await persistence.lock_expired_leases(session, ctx.settings.sla_batch_size)
    for case in cases:
        await _record_expiry(session, case, now)
        case.updated_at = now
    return len(cases)
