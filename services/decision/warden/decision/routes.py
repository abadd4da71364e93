"""HTTP API for reviewers: record and read decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from warden.decision import persistence
from warden.decision.domain import ACTIONS, decide
from warden.decision.models import Decision
from warden.shared.app import Runtime
from warden.shared.auth import Reviewer, reviewer_from_request
from warden.shared.contracts.events import DECISION_RECORDED_V1
from warden.shared.errors import NotFound

router = APIRouter(prefix="/v1", tags=["decisions"])
CurrentReviewer = Annotated[Reviewer, Depends(reviewer_from_request)]


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(runtime)]


class DecisionRequest(BaseModel):
    # Checked with the body, so a bad action is a 422 whether or not the case exists.
    action: Literal[tuple(ACTIONS)] = Field(  # type: ignore[valid-type]
        description="the action taken, from the catalogue")
    policy_cited: str = Field(min_length=1, max_length=200,
                              description="the policy clause the decision rests on")
    rationale: str = Field(min_length=1, max_length=10_000)
    territorial_scope: list[str] = Field(default_factory=list,
                                         description="ISO country codes; empty means global")


class DecisionOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    action: str
    policy_cited: str
    rationale: str
    reviewer_id: str
    restricts: bool
    dsa_category: str
    territorial_scope: list[str]
    decided_at: datetime

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls.model_validate(decision, from_attributes=True)


@router.post("/cases/{case_id}/decisions", status_code=201, response_model=DecisionOut)
async def record_decision(case_id: uuid.UUID, body: DecisionRequest, reviewer: CurrentReviewer,
                          rt: RuntimeDep) -> DecisionOut:
    async with rt.sessions() as session, session.begin():
        case = await persistence.lock_case(session, case_id)
        if case is None:
            raise NotFound(f"no routed case {case_id} is known to the decision service")
        recorded = decide(case, action=body.action, policy_cited=body.policy_cited,
                          rationale=body.rationale, reviewer_id=reviewer.id,
                          territorial_scope=body.territorial_scope, now=datetime.now(UTC))
        stored = await persistence.store_decision(session, recorded)
        await rt.outbox.emit(session, type=DECISION_RECORDED_V1, key=recorded.subject.id,
                             payload=recorded)
    return DecisionOut.of(stored)


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
async def read_decision(decision_id: uuid.UUID, _: CurrentReviewer, rt: RuntimeDep) -> DecisionOut:
    async with rt.sessions() as session:
        decision = await persistence.get_decision(session, decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id}")
    return DecisionOut.of(decision)


@router.get("/cases/{case_id}/decisions", response_model=list[DecisionOut])
async def case_decisions(case_id: uuid.UUID, _: CurrentReviewer, rt: RuntimeDep) -> list[DecisionOut]:
    async with rt.sessions() as session:
        if not await persistence.case_exists(session, case_id):
            raise NotFound(f"no routed case {case_id} is known to the decision service")
        return [DecisionOut.of(d) for d in await persistence.decisions_for_case(session, case_id)]
