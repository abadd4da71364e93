"""What a decision is about and the states it goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from warden.shared.contracts.events import Subject
from warden.shared.errors import InvalidInput

OPEN, PENDING_APPROVAL, DECIDED = "open", "pending_approval", "decided"  # case states
FINAL, REJECTED, EXPIRED, REVERSED = "final", "rejected", "expired", "reversed"
REVIEW, APPEAL = "review", "appeal"


@dataclass(frozen=True)
class CaseView:
    """What the decision service knows of a case (from ``cases.routed`` and its own decisions)."""

    case_id: uuid.UUID
    subject: Subject
    policy_area: str
    category: str
    queue: str
    status: str
    stage: str
    report_ids: list[uuid.UUID]
    channels: list[str] = field(default_factory=list)
    appeal_id: uuid.UUID | None = None
    first_routed_at: datetime | None = None


@dataclass(frozen=True)
class ActionRequest:
    code: str
    territorial_scope: list[str] | None = None
    ends_at: datetime | None = None


def invalid(field_path: str, message: str, kind: str) -> InvalidInput:
    return InvalidInput(f"{field_path}: {message}",
                        errors=[{"field": field_path, "message": message, "type": kind}])
