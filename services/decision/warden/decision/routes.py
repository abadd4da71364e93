"""HTTP API: reviewers decide, approve and decide appeals; upstream systems file appeals;
anyone entitled reads statements of reasons, strikes and the audit chain's verification.

Deciding needs the lease token routing returned with the claim (``Lease-Token`` header).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field

from warden.decision import audit, persistence
from warden.decision.consumers import APPEALS_SCOPE, context
from warden.decision.domain import ActionRequest
from warden.decision.models import Appeal, Decision
from warden.decision.service import DecisionContext
from warden.decision.service.appeals import (
    AppealDecisionInput,
    AppealInput,
    decide_appeal,
    file_appeal,
)
from warden.decision.service.approvals import approve, reject
from warden.decision.service.decisions import DecisionInput, record_decision
from warden.decision.service.record import statement_path
from warden.shared import lease_tokens
from warden.shared.apikeys import CurrentClient
from warden.shared.app import Runtime
from warden.shared.auth import Reviewer, caller_with_role, reviewer_from_request
from warden.shared.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1", tags=["decisions"])
CurrentReviewer = Annotated[Reviewer, Depends(reviewer_from_request)]
Auditor = Annotated[Reviewer, Depends(caller_with_role("auditor", "operator", "lead",
                                                       "admin"))]


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def decision_context(request: Request) -> DecisionContext:
    return context(request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(runtime)]
ContextDep = Annotated[DecisionContext, Depends(decision_context)]


def lease_from_header(request: Request, lease_token: Annotated[
        str | None, Header(alias=lease_tokens.HEADER, description="the lease token routing "
                           "returned with the claim")] = None) -> lease_tokens.Lease | None:
    """The lease the caller proves (None without a token: the decision is then refused as
    not claimed, with the reason)."""
    if not lease_token:
        return None
    key = request.app.state.runtime.settings.lease_verify_key
    try:
        return lease_tokens.read(key, lease_token)
    except lease_tokens.LeaseTokenInvalid as exc:
        raise Forbidden(f"the {lease_tokens.HEADER} is not a lease token routing signed: "
                        f"{exc}") from exc


LeaseDep = Annotated[lease_tokens.Lease | None, Depends(lease_from_header)]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- documents --------------------------------------------------------------------------------

class ActionIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="from the action catalogue")
    territorial_scope: list[str] | None = Field(
        None, max_length=250, description="ISO 3166-1 alpha-2 codes; defaults to the "
                                          "decision's territorial_scope")
    ends_at: datetime | None = Field(None, description="end of a temporary measure")

    def request(self) -> ActionRequest:
        return ActionRequest(code=self.code, territorial_scope=self.territorial_scope,
                             ends_at=self.ends_at)


class DecisionIn(BaseModel):
    actions: list[ActionIn] = Field(min_length=1, max_length=10)
    policy_id: str = Field(min_length=1, max_length=100,
                           description="the policy catalogue entry the decision rests on")
    facts: str = Field(min_length=1, max_length=5000, description="facts and circumstances "
                       "relied on (public in the statement of reasons: no personal data)")
    reasoning: str = Field(min_length=1, max_length=1500,
                           description="why the content breaks the policy")
    territorial_scope: list[str] = Field(default_factory=list, max_length=250,
                                         description="ISO country codes; empty means global")
    automated_detection: bool | None = Field(
        None, description="was the content detected by automated means (default: whether "
                          "an automated detector reported it)")
    automated_decision: Literal["not_automated", "partially"] | None = None
    content_date: datetime | None = Field(None, description="when the content was posted")


class DecisionOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    stage: str
    status: str = Field(description="pending_approval, final, rejected, expired or reversed")
    queue: str
    subject: dict[str, Any]
    actions: list[dict[str, Any]]
    policy: dict[str, Any]
    category: str
    dsa_category: str
    facts: str
    reasoning: str
    automated_detection: bool
    automated_decision: str
    automation_rule: str | None
    decided_by: str | None
    approved_by: str | None
    closed_by: str | None
    approval_note: str | None
    decided_at: datetime
    final_at: datetime | None
    expires_at: datetime | None
    closed_at: datetime | None
    appeal_id: uuid.UUID | None
    appeal_outcome: str | None
    reverses: uuid.UUID | None
    reversed_by: uuid.UUID | None
    puid: str | None
    statement_of_reasons: str | None = Field(description="where its statement of reasons is")

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        data = {name: getattr(decision, name) for name in cls.model_fields
                if name != "statement_of_reasons"}
        return cls(**data, statement_of_reasons=statement_path(decision.id)
                   if decision.statement is not None else None)


class ApprovalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PendingOut(BaseModel):
    decision: DecisionOut
    you_can_approve: bool = Field(description="you are not the first reviewer and have the "
                                              "queue's skills")


class StrikeOut(BaseModel):
    decision_id: uuid.UUID
    policy_id: str
    issued_at: datetime
    expires_at: datetime
    removed_at: datetime | None
    removed_reason: str | None
    active: bool


class StrikesOut(BaseModel):
    account_id: str
    active: int
    strikes: list[StrikeOut]


class AppealIn(BaseModel):
    decision_id: uuid.UUID
    appellant_id: str = Field(min_length=1, max_length=200,
                              description="the affected user's account, or the reporter")
    appellant_kind: Literal["affected_user", "reporter"] = "affected_user"
    reason: str = Field(min_length=1, max_length=5000)


class AppealOut(BaseModel):
    id: uuid.UUID
    decision_id: uuid.UUID
    case_id: uuid.UUID
    appellant_id: str
    appellant_kind: str
    client_id: str
    reason: str
    filed_at: datetime
    deadline: datetime
    status: str
    outcome_decision_id: uuid.UUID | None
    decided_at: datetime | None

    @classmethod
    def of(cls, appeal: Appeal) -> AppealOut:
        return cls.model_validate(appeal, from_attributes=True)


class AppealDecisionIn(BaseModel):
    outcome: Literal["uphold", "reverse", "modify"]
    facts: str = Field(min_length=1, max_length=5000)
    reasoning: str = Field(min_length=1, max_length=1500)
    actions: list[ActionIn] | None = Field(None, max_length=10,
                                           description="modify: the measures that replace "
                                                       "the original ones")
    policy_id: str | None = Field(None, max_length=100, description="modify: the policy cited")
    territorial_scope: list[str] | None = Field(None, max_length=250)


class VerificationOut(BaseModel):
    ok: bool
    records: int = Field(description="records verified")
    head_seq: int = Field(description="the last record that matched")
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


# --- decisions --------------------------------------------------------------------------------

@router.post("/cases/{case_id}/decisions", status_code=201, response_model=DecisionOut)
async def record(case_id: uuid.UUID, body: DecisionIn, reviewer: CurrentReviewer,
                 lease: LeaseDep, rt: RuntimeDep, ctx: ContextDep) -> DecisionOut:
    """Decide a case you hold the lease on. Severe or irreversible actions answer
    ``pending_approval``: a second reviewer must approve before anything is enforced."""
    request = DecisionInput(
        actions=[a.request() for a in body.actions], policy_id=body.policy_id,
        facts=body.facts, reasoning=body.reasoning, territorial_scope=body.territorial_scope,
        automated_detection=body.automated_detection,
        automated_decision=body.automated_decision, content_date=body.content_date)
    async with rt.sessions() as session, session.begin():
        decision = await record_decision(ctx, session, case_id, request, reviewer, lease,
                                         utcnow())
        return DecisionOut.of(decision)


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
async def read_decision(decision_id: uuid.UUID, _: CurrentReviewer,
                        rt: RuntimeDep) -> DecisionOut:
    async with rt.sessions() as session:
        decision = await persistence.get_decision(session, decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id}")
    return DecisionOut.of(decision)


@router.get("/decisions/{decision_id}/statement-of-reasons")
async def statement_of_reasons(decision_id: uuid.UUID, _: CurrentReviewer,
                               rt: RuntimeDep) -> dict[str, Any]:
    """The statement of reasons exactly as the DSA Transparency Database API takes it
    (``POST /api/v1/statement``)."""
    async with rt.sessions() as session:
        decision = await persistence.get_decision(session, decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id}")
    if decision.statement is None:
        raise NotFound(f"decision {decision_id} has no statement of reasons (it is "
                       f"{decision.status} and restricts nothing of its own)")
    return decision.statement


@router.get("/cases/{case_id}/decisions", response_model=list[DecisionOut])
async def case_decisions(case_id: uuid.UUID, _: CurrentReviewer,
                         rt: RuntimeDep) -> list[DecisionOut]:
    async with rt.sessions() as session:
        if await persistence.get_case(session, case_id) is None:
            raise NotFound(f"no routed case {case_id} is known to the decision service")
        return [DecisionOut.of(d) for d in await persistence.decisions_for_case(session,
                                                                                case_id)]


# --- four-eyes --------------------------------------------------------------------------------

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


# --- strikes ----------------------------------------------------------------------------------

@router.get("/accounts/{account_id}/strikes", response_model=StrikesOut)
async def strikes(account_id: str, _: CurrentReviewer, rt: RuntimeDep) -> StrikesOut:
    now = utcnow()
    async with rt.sessions() as session:
        rows = await persistence.strikes_of(session, account_id)
    out = [StrikeOut(decision_id=s.decision_id, policy_id=s.policy_id, issued_at=s.issued_at,
                     expires_at=s.expires_at, removed_at=s.removed_at,
                     removed_reason=s.removed_reason,
                     active=s.removed_at is None and s.expires_at > now) for s in rows]
    return StrikesOut(account_id=account_id, active=sum(s.active for s in out), strikes=out)


# --- appeals ----------------------------------------------------------------------------------

@router.post("/appeals", status_code=201, response_model=AppealOut,
             responses={200: {"description": "this appellant already appealed this decision: "
                                             "the first appeal"}})
async def appeal(body: AppealIn, client: CurrentClient, response: Response, rt: RuntimeDep,
                 ctx: ContextDep) -> AppealOut:
    """An upstream system appeals a decision for the affected user (or for the reporter of a
    no-action decision): 404 unknown decision, 403 not entitled, 409 past the deadline."""
    client.require_scope(APPEALS_SCOPE, "file appeals")
    request = AppealInput(decision_id=body.decision_id, appellant_id=body.appellant_id,
                          appellant_kind=body.appellant_kind, reason=body.reason)
    async with rt.sessions() as session, session.begin():
        filed, created = await file_appeal(ctx, session, request, client.name, utcnow())
        out = AppealOut.of(filed)
    if not created:
        response.status_code = 200
    return out


@router.get("/appeals/{appeal_id}", response_model=AppealOut)
async def read_appeal(appeal_id: uuid.UUID, _: CurrentReviewer, rt: RuntimeDep) -> AppealOut:
    async with rt.sessions() as session:
        found = await persistence.get_appeal(session, appeal_id)
    if found is None:
        raise NotFound(f"no appeal {appeal_id}")
    return AppealOut.of(found)


@router.post("/appeals/{appeal_id}/decision", status_code=201, response_model=DecisionOut)
async def decide(appeal_id: uuid.UUID, body: AppealDecisionIn, reviewer: CurrentReviewer,
                 lease: LeaseDep, rt: RuntimeDep, ctx: ContextDep) -> DecisionOut:
    """Decide an appeal you hold the lease on (claimed from the appeals queue): uphold,
    reverse (the restrictions are undone) or modify (replaced by the given actions)."""
    request = AppealDecisionInput(
        outcome=body.outcome, facts=body.facts, reasoning=body.reasoning,
        actions=[a.request() for a in body.actions] if body.actions else None,
        policy_id=body.policy_id, territorial_scope=body.territorial_scope)
    async with rt.sessions() as session, session.begin():
        return DecisionOut.of(await decide_appeal(ctx, session, appeal_id, request, reviewer,
                                                  lease, utcnow()))


# --- audit ------------------------------------------------------------------------------------

@router.get("/audit/verify", response_model=VerificationOut)
async def verify_audit(_: Auditor, rt: RuntimeDep) -> VerificationOut:
    """Walk the audit chain; name the first record that does not match."""
    async with rt.sessions() as session:
        result = await audit.verify(session)
    return VerificationOut(ok=result.ok, records=result.records, head_seq=result.head_seq,
                           head_hash=result.head_hash,
                           first_bad_seq=result.first_bad.seq if result.first_bad else None,
                           problem=result.first_bad.reason if result.first_bad else None)
