"""Four-eyes: a second reviewer approves or rejects a pending decision; unapproved ones
expire and their case goes back to its queue."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision import domain, persistence
from warden.decision.models import Case, Decision
from warden.decision.service import DecisionContext
from warden.decision.service.record import audit_step, close_unapproved, finalise
from warden.shared.auth import Reviewer
from warden.shared.errors import NotFound


async def _locked(session: AsyncSession, decision_id: uuid.UUID) -> tuple[Decision, Case]:
    """The decision and its case, locked case first (the order every use case takes)."""
    found = await persistence.get_decision(session, decision_id)
    if found is None:
        raise NotFound(f"no decision {decision_id}")
    case = await persistence.lock_case(session, found.case_id)
    decision = await persistence.get_decision(session, decision_id, lock=True)
    return decision, case


async def _pending(session: AsyncSession, decision_id: uuid.UUID, reviewer: Reviewer,
                   now: datetime) -> tuple[Decision, Case]:
    decision, case = await _locked(session, decision_id)
    domain.authorise_approver(decided_by=decision.decided_by, status=decision.status,
                              expires_at=decision.expires_at,
                              required_skills=set(decision.required_skills), reviewer=reviewer,
                              now=now, decision_id=decision.id)
    return decision, case


async def approve(ctx: DecisionContext, session: AsyncSession, decision_id: uuid.UUID,
                  reviewer: Reviewer, note: str, now: datetime) -> Decision:
    decision, case = await _pending(session, decision_id, reviewer, now)
    decision.approved_by = reviewer.id
    decision.approval_note = note
    await audit_step(session, "decision_approved", decision, actor=reviewer.id, at=now,
                     note=note)
    await finalise(ctx, session, decision, case, now, actor=reviewer.id)
    return decision


async def reject(ctx: DecisionContext, session: AsyncSession, decision_id: uuid.UUID,
                 reviewer: Reviewer, reason: str, now: datetime) -> Decision:
    decision, case = await _pending(session, decision_id, reviewer, now)
    await close_unapproved(ctx, session, decision, case, outcome=domain.REJECTED,
                           closed_by=reviewer.id, reason=reason, now=now)
    return decision


async def expire_pending(ctx: DecisionContext, session: AsyncSession, now: datetime,
                         limit: int = 100) -> int:
    """Pending decisions past their time: expired, case back to its queue."""
    closed = 0
    for candidate in await persistence.expired_pending(session, now, limit):
        decision, case = await _locked(session, candidate)
        if decision.status != domain.PENDING_APPROVAL or decision.expires_at > now:
            continue  # approved or rejected meanwhile
        await close_unapproved(ctx, session, decision, case, outcome=domain.EXPIRED,
                               closed_by=None, reason="not approved in time", now=now)
        closed += 1
    return closed
