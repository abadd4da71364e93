"""Four-eyes outcomes from the decision service: hold a case while its decision awaits a
second reviewer, and give it back to its queue when that decision is rejected or expires.

Kept apart from the routing use cases so the lease rules of a pending decision read in one
place; it only touches the lease of the case.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, persistence
from warden.routing.models import OPEN
from warden.shared.contracts.events import DecisionApprovalClosedV1, DecisionPendingApprovalV1


async def hold_for_approval(session: AsyncSession, pending: DecisionPendingApprovalV1,
                            now: datetime) -> None:
    """The deciding reviewer keeps the case until the approval window ends, so nobody else
    claims a case whose decision is already taken."""
    case = await persistence.lock_case(session, pending.case_id)
    if case is None or case.status != OPEN:
        return
    expires_at = domain.as_utc(pending.expires_at)
    if case.assignee_id in (None, pending.decided_by) and (
            case.lease_expires_at is None or domain.as_utc(case.lease_expires_at) < expires_at):
        case.assignee_id = pending.decided_by
        case.lease_expires_at = expires_at
        case.updated_at = now
    await persistence.record_history(
        session, case, "decision_pending_approval", actor=pending.decided_by, at=now,
        detail=f"decision {pending.decision_id} ({', '.join(pending.action_codes)}) awaits a "
               f"second reviewer until {expires_at.isoformat()}")


async def return_after_approval_closed(session: AsyncSession, closed: DecisionApprovalClosedV1,
                                       now: datetime) -> None:
    """A rejected or expired decision is no decision: the case waits in its queue again."""
    case = await persistence.lock_case(session, closed.case_id)
    if case is None or case.status != OPEN:
        return
    if case.assignee_id == closed.decided_by:
        persistence.clear_lease(case)
        case.updated_at = now
    detail = f"decision {closed.decision_id} {closed.outcome}"
    if closed.reason:
        detail += f": {closed.reason}"
    await persistence.record_history(session, case, f"decision_{closed.outcome}",
                                     actor=closed.closed_by or persistence.SYSTEM, at=now,
                                     detail=detail)
