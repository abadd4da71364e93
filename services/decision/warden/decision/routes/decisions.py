"""Deciding a case (the lease holder), and reading decisions and statements of reasons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from warden.decision import persistence
from warden.decision.routes.common import (
    ActionIn,
    ContextDep,
    CurrentReviewer,
    DecisionOut,
    LeaseDep,
    new_router,
)
from warden.decision.service.decisions import DecisionInput, record_decision
from warden.shared.clock import utcnow
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import NotFound

router = new_router()


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
