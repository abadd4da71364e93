"""Four-eyes: what waits for a second reviewer, and approving or rejecting it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from warden.decision import persistence
from warden.decision.routes.common import ContextDep, CurrentReviewer, DecisionOut, new_router
from warden.decision.service.approvals import approve, reject
from warden.shared.clock import utcnow
from warden.shared.dependencies import RuntimeDep

router = new_router()


class ApprovalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PendingOut(BaseModel):
    decision: DecisionOut
    you_can_approve: bool = Field(description="you are not the first reviewer and have the "
                                              "queue's skills")


@router.get("/approvals", response_model=list[PendingOut])
async def approvals(reviewer: CurrentReviewer, rt: RuntimeDep,
                    limit: int = 100) -> list[PendingOut]:
    """Decisions waiting for a second reviewer, oldest first."""
    async with rt.sessions() as session:
        pending = await persistence.pending_decisions(session, limit=min(max(limit, 1), 500))
    return [PendingOut(decision=DecisionOut.of(d),
                       you_can_approve=d.decided_by != reviewer.id
                       and reviewer.has_skills(set(d.required_skills)))
            for d in pending]


@router.post("/decisions/{decision_id}/approve", response_model=DecisionOut)
async def approve_decision(decision_id: uuid.UUID, body: ApprovalIn, reviewer: CurrentReviewer,
                           rt: RuntimeDep, ctx: ContextDep) -> DecisionOut:
    async with rt.sessions() as session, session.begin():
        return DecisionOut.of(await approve(ctx, session, decision_id, reviewer, body.reason,
                                            utcnow()))


@router.post("/decisions/{decision_id}/reject", response_model=DecisionOut)
async def reject_decision(decision_id: uuid.UUID, body: ApprovalIn, reviewer: CurrentReviewer,
                          rt: RuntimeDep, ctx: ContextDep) -> DecisionOut:
    async with rt.sessions() as session, session.begin():
        return DecisionOut.of(await reject(ctx, session, decision_id, reviewer, body.reason,
                                           utcnow()))
