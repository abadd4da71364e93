"""The enforcement record as it stands: an account's strikes, and the audit chain checked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from warden.decision import audit, persistence
from warden.decision.routes.common import CurrentReviewer, new_router
from warden.shared.auth import Reviewer, caller_with_role
from warden.shared.clock import utcnow
from warden.shared.dependencies import RuntimeDep

router = new_router()
Auditor = Annotated[Reviewer, Depends(caller_with_role("auditor", "operator", "lead",
                                                       "admin"))]


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


class VerificationOut(BaseModel):
    ok: bool
    records: int = Field(description="records verified")
    head_seq: int = Field(description="the last record that matched")
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


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


@router.get("/audit/verify", response_model=VerificationOut)
async def verify_audit(_: Auditor, rt: RuntimeDep) -> VerificationOut:
    """Walk the audit chain; name the first record that does not match."""
    async with rt.sessions() as session:
        result = await audit.verify(session)
    return VerificationOut(ok=result.ok, records=result.records, head_seq=result.head_seq,
                           head_hash=result.head_hash,
                           first_bad_seq=result.first_bad.seq if result.first_bad else None,
                           problem=result.first_bad.reason if result.first_bad else None)
