"""Decision's appeal event (DSA Art. 20): routing reopens the case for another reviewer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from warden.shared.contracts.events.common import Payload, Subject


class AppealFiledV1(Payload):
    appeal_id: UUID
    decision_id: UUID
    case_id: UUID
    subject: Subject
    appellant_id: str
    reason: str
    filed_at: datetime
    original_reviewer_id: str
    appellant_kind: Literal["affected_user", "reporter"] | None = Field(
        None, description="whom the upstream system files for (DSA Art. 20)")
    client_id: str | None = Field(None, description="the upstream system that filed it")
    excluded_reviewer_ids: list[str] = Field(
        default_factory=list, description="everyone who took part in the decision (decided "
                                          "or approved it): none of them may decide the appeal")
    deadline: datetime | None = Field(None, description="the end of the appeal window")
