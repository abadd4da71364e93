"""Notify's events: a notification delivered, or given up on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from warden.shared.contracts.events.common import Payload


class NotificationDeliveredV1(Payload):
    notification_id: UUID
    source_event_id: str
    source_event_type: str
    recipient: str
    endpoint_url: str
    status: Literal["delivered", "dead"]
    attempts: int
    finished_at: datetime
    case_id: UUID | None = None
    decision_id: UUID | None = None
    report_ids: list[UUID] = Field(default_factory=list)
    audience: str | None = Field(
        None, description="who was told: reporter, affected, authority, transparency_db, "
                          "law_enforcement, child_safety_hotline, or subscriber (raw events)")
    notice: str | None = Field(None, description="which notice, e.g. reporter_outcome")
    channel: str | None = Field(None, description="webhook, email or transparency_db")


class NotificationDeadV1(Payload):
    """A notification that exhausted its retries (or was refused for good); an operator may
    redeliver it with ``POST /v1/notifications/{id}/redeliver``."""

    notification_id: UUID
    source_event_id: str
    source_event_type: str
    audience: str
    notice: str | None = None
    channel: str
    endpoint_name: str
    attempts: int
    reason: str
    died_at: datetime
    case_id: UUID | None = None
    decision_id: UUID | None = None
    report_ids: list[UUID] = Field(default_factory=list)
