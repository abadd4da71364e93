"""HTTP API for reviewers and leads: queues, claims and leases, transfers, cases, the policy.

Identity and skills come from the bearer token (``Authorization: Bearer <JWT>``). Claiming
from an empty queue answers ``204 No Content``: an empty queue is not an error, and a
``404`` stays reserved for a queue that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from warden.routing import service
from warden.routing.lease_tokens import token_for
from warden.routing.consumers import routing
from warden.routing.models import Case, CaseHistory, CaseReport
from warden.routing.service import Routing
from warden.shared.auth import Reviewer, caller_with_role, reviewer_from_request
from warden.shared.clock import utcnow
from warden.shared.contracts.events import Channel
from warden.shared.dependencies import RuntimeDep, from_runtime

router = APIRouter(prefix="/v1", tags=["routing"])

CurrentReviewer = Annotated[Reviewer, Depends(reviewer_from_request)]
Lead = Annotated[Reviewer, Depends(caller_with_role("lead", "admin"))]


RoutingDep = Annotated[Routing, Depends(from_runtime(routing))]


# --- documents --------------------------------------------------------------------------------

class CaseOut(BaseModel):
    id: uuid.UUID
    subject: dict[str, Any]
    policy_area: str
    category: str
    status: str
    stage: str = Field(description="review (first instance) or appeal")
    queue: str
    priority: int
    due_at: datetime
    legal_deadline: datetime | None
    report_count: int
    reporter_count: int
    channels: list[Channel]
    rule_id: str
    policy_version: str
    previous_case_id: uuid.UUID | None
    excluded_reviewer_id: str | None = Field(
        description="on appeal: the reviewer who decided, who may not take the appeal")
    appeal_id: uuid.UUID | None
    decision_id: uuid.UUID | None
    assignee_id: str | None
    lease_expires_at: datetime | None
    opened_at: datetime
    queued_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls.model_validate(case, from_attributes=True)


class ReportOut(BaseModel):
    report_id: uuid.UUID
    channel: Channel
    category: str
    rule_id: str
    received_at: datetime
    joined_at: datetime
    legal_deadline: datetime | None
    report: dict[str, Any] = Field(description="the normalised report as routing received it")

    @classmethod
    def of(cls, report: CaseReport) -> ReportOut:
        return cls.model_validate(report, from_attributes=True)


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    queue: str
    priority: int
    due_at: datetime
    detail: str | None

    @classmethod
    def of(cls, entry: CaseHistory) -> HistoryOut:
        return cls.model_validate(entry, from_attributes=True)


class ClaimOut(CaseOut):
    lease_token: str = Field(description="proof of the lease for the decision service: send "
                                         "it as the Lease-Token header when deciding; it "
                                         "expires with the lease")


def claim_out(case: Case, ctx: Routing, now: datetime) -> ClaimOut:
    return ClaimOut(**CaseOut.of(case).model_dump(),
                    lease_token=token_for(case, ctx.policy, ctx.settings.lease_signing_key, now))


class CaseFileOut(CaseOut):
    reports: list[ReportOut]
    history: list[HistoryOut]


class QueueOut(BaseModel):
    name: str
    required_skills: list[str]
    you_can_claim: bool = Field(description="the caller has the skills the queue needs")
    sla_seconds: float | None
    depth: int = Field(description="open cases in the queue")
    waiting: int = Field(description="open cases nobody holds a live lease on")
    in_review: int
    oldest_case_age_seconds: float | None = Field(
        description="how long the longest-waiting open case has been in this queue")
    due_within_hour: int
    overdue: int
    in_policy: bool = Field(description="false for a queue a policy reload removed that "
                                        "still holds cases")


class QueuesOut(BaseModel):
    policy_version: str
    observed_at: datetime
    queues: list[QueueOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at "
                                                "the end")


class LeaseRequest(BaseModel):
    lease_seconds: int | None = Field(None, ge=1, description="defaults to the service setting")


class ReleaseRequest(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class TransferRequest(BaseModel):
    queue: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class PolicyOut(BaseModel):
    version: str
    digest: str
    source: str
    rules: int
    queues: list[str]


class ReloadOut(PolicyOut):
    changed: bool
    previous_version: str


def policy_out(ctx: Routing) -> PolicyOut:
    loaded = ctx.policy
    return PolicyOut(version=loaded.version, digest=loaded.digest, source=loaded.source,
                     rules=len(loaded.policy.rules), queues=list(loaded.policy.queues))


# --- queues -----------------------------------------------------------------------------------

@router.get("/queues", response_model=QueuesOut)
async def list_queues(reviewer: CurrentReviewer, rt: RuntimeDep, ctx: RoutingDep) -> QueuesOut:
    now = utcnow()
    async with rt.sessions() as session:
        overview = await service.queue_overview(ctx, session, now)
    return QueuesOut(policy_version=ctx.policy.version, observed_at=now, queues=[
        QueueOut(name=q.name, required_skills=sorted(q.skills),
                 you_can_claim=q.in_policy and reviewer.has_skills(q.skills),
                 sla_seconds=q.sla.total_seconds() if isinstance(q.sla, timedelta) else None,
                 depth=q.figures.depth, waiting=q.figures.waiting, in_review=q.figures.in_review,
                 oldest_case_age_seconds=(now - q.figures.oldest_queued_at).total_seconds()
                 if q.figures.oldest_queued_at else None,
                 due_within_hour=q.figures.due_within_hour, overdue=q.figures.overdue,
                 in_policy=q.in_policy)
        for q in overview])


@router.get("/queues/{queue}/cases", response_model=CasePage)
async def queue_cases(queue: str, reviewer: CurrentReviewer, rt: RuntimeDep, ctx: RoutingDep,
                      cursor: Annotated[str | None, Query(max_length=500)] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> CasePage:
    """Open cases of the queue in claim order: priority, then due time."""
    async with rt.sessions() as session:
        cases, next_cursor = await service.list_queue(ctx, session, queue, reviewer,
                                                      cursor=cursor, limit=limit)
    return CasePage(items=[CaseOut.of(c) for c in cases], next_cursor=next_cursor)


@router.post("/queues/{queue}/claim", response_model=ClaimOut,
             responses={204: {"description": "the queue has no case you can claim"}})
async def claim(queue: str, reviewer: CurrentReviewer, rt: RuntimeDep, ctx: RoutingDep,
                body: LeaseRequest | None = None) -> ClaimOut | Response:
    """Lease the next case (highest priority, then earliest due) to the caller, with the lease
    token the decision service asks for."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        case = await service.claim_next(ctx, session, queue, reviewer,
                                        lease_seconds=body.lease_seconds if body else None)
    if case is None:
        return Response(status_code=204)
    return claim_out(case, ctx, now)


# --- cases ------------------------------------------------------------------------------------

@router.get("/cases/{case_id}", response_model=CaseFileOut)
async def read_case(case_id: uuid.UUID, reviewer: CurrentReviewer, rt: RuntimeDep,
                    ctx: RoutingDep) -> CaseFileOut:
    async with rt.sessions() as session:
        found = await service.read_case(ctx, session, case_id, reviewer)
    return CaseFileOut(**CaseOut.of(found.case).model_dump(),
                       reports=[ReportOut.of(r) for r in found.reports],
                       history=[HistoryOut.of(h) for h in found.history])


@router.post("/cases/{case_id}/release", response_model=CaseOut)
async def release(case_id: uuid.UUID, reviewer: CurrentReviewer, rt: RuntimeDep,
                  ctx: RoutingDep, body: ReleaseRequest | None = None) -> CaseOut:
    """Give the case back to its queue (the lease holder, or a lead)."""
    async with rt.sessions() as session, session.begin():
        case = await service.release(ctx, session, case_id, reviewer,
                                     reason=body.reason if body else None)
    return CaseOut.of(case)


@router.post("/cases/{case_id}/lease", response_model=ClaimOut)
async def renew_lease(case_id: uuid.UUID, reviewer: CurrentReviewer, rt: RuntimeDep,
                      ctx: RoutingDep, body: LeaseRequest | None = None) -> ClaimOut:
    """Extend the caller's live lease (with a new lease token); an expired lease cannot be
    renewed (claim again)."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        case = await service.renew_lease(ctx, session, case_id, reviewer,
                                         lease_seconds=body.lease_seconds if body else None)
    return claim_out(case, ctx, now)


@router.post("/cases/{case_id}/transfer", response_model=CaseOut)
async def transfer(case_id: uuid.UUID, body: TransferRequest, reviewer: CurrentReviewer,
                   rt: RuntimeDep, ctx: RoutingDep) -> CaseOut:
    """Move the case to another queue with a reason (the lease holder, or a lead); it arrives
    there unclaimed, keeping its due time and priority."""
    async with rt.sessions() as session, session.begin():
        case = await service.transfer(ctx, session, case_id, reviewer, to_queue=body.queue,
                                      reason=body.reason)
    return CaseOut.of(case)


# --- policy -----------------------------------------------------------------------------------

@router.get("/policy", response_model=PolicyOut)
async def read_policy(_: CurrentReviewer, ctx: RoutingDep) -> PolicyOut:
    return policy_out(ctx)


@router.post("/policy/reload", response_model=ReloadOut)
async def reload_policy(_: Lead, rt: RuntimeDep, ctx: RoutingDep) -> ReloadOut:
    """Re-read the policy file. An invalid file is refused (422, naming each bad rule) and
    the policy in force stays; so is one that would strand open cases in a dropped queue."""
    async with rt.sessions() as session:
        outcome = await service.reload_policy(ctx, session, utcnow())
    return ReloadOut(**policy_out(ctx).model_dump(), changed=outcome.changed,
                     previous_version=outcome.previous.version)
