"""Appeals (DSA Art. 20): an upstream system files one for its user; a reviewer who took no
part in the decision appealed against decides it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import Response
from pydantic import BaseModel, Field

from warden.decision import persistence
from warden.decision.consumers import APPEALS_SCOPE
from warden.decision.models import Appeal
from warden.decision.routes.common import (
    ActionIn,
    ContextDep,
    CurrentReviewer,
    DecisionOut,
    LeaseDep,
    new_router,
)
from warden.decision.service.appeals import (
    AppealDecisionInput,
    AppealInput,
    decide_appeal,
    file_appeal,
)
from warden.shared.apikeys import CurrentClient
from warden.shared.clock import utcnow
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import NotFound

router = new_router()


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
