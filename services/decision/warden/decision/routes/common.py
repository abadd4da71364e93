"""What the decision routes share: the caller, the service's context, the lease the caller
proves, and the documents a decision is asked for and answered with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field

from warden.decision.consumers import context
from warden.decision.domain import ActionRequest
from warden.decision.models import Decision
from warden.decision.service import DecisionContext
from warden.decision.service.record import statement_path
from warden.shared import lease_tokens
from warden.shared.auth import Reviewer, reviewer_from_request
from warden.shared.dependencies import RuntimeDep, from_runtime
from warden.shared.errors import Forbidden


def new_router() -> APIRouter:
    return APIRouter(prefix="/v1", tags=["decisions"])


CurrentReviewer = Annotated[Reviewer, Depends(reviewer_from_request)]
ContextDep = Annotated[DecisionContext, Depends(from_runtime(context))]


async def lease_from_header(rt: RuntimeDep, lease_token: Annotated[
        str | None, Header(alias=lease_tokens.HEADER, description="the lease token routing "
                           "returned with the claim")] = None) -> lease_tokens.Lease | None:
    """The lease the caller proves (None without a token: the decision is then refused as
    not claimed, with the reason)."""
    if not lease_token:
        return None
    try:
        return lease_tokens.read(rt.settings.lease_verify_key, lease_token)
    except lease_tokens.LeaseTokenInvalid as exc:
        raise Forbidden(f"the {lease_tokens.HEADER} is not a lease token routing signed: "
                        f"{exc}") from exc


LeaseDep = Annotated[lease_tokens.Lease | None, Depends(lease_from_header)]


class ActionIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="from the action catalogue")
    territorial_scope: list[str] | None = Field(
        None, max_length=250, description="ISO 3166-1 alpha-2 codes; defaults to the "
                                          "decision's territorial_scope")
    ends_at: datetime | None = Field(None, description="end of a temporary measure")

    def request(self) -> ActionRequest:
        return ActionRequest(code=self.code, territorial_scope=self.territorial_scope,
                             ends_at=self.ends_at)


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
