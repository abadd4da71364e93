"""The delivery log: listing notifications, reading one with its attempts, redelivering."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from warden.notify import persistence
from warden.notify.domain import NotificationStatus, page_cursor, parse_page_cursor, redelivery
from warden.notify.models import DeliveryAttempt, Notification
from warden.notify.routes.common import Operator, new_router
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import NotFound

router = new_router()


class AttemptOut(BaseModel):
    number: int
    url: str
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    outcome: str = Field(description="delivered, retry, dead, superseded (the lease ran out "
                         "and another worker took over) or interrupted (service stopped)")


class NotificationOut(BaseModel):
    id: uuid.UUID = Field(description="also the webhook-id header of every attempt")
    endpoint_id: uuid.UUID
    audience: str = Field(description="reporter, affected, authority, transparency_db, "
                          "law_enforcement, child_safety_hotline or subscriber (raw events)")
    notice: str | None = Field(description="which notice (reporter_receipt, "
                               "statement_of_reasons, ...); none for raw events")
    channel: str = Field(description="webhook, email or transparency_db")
    recipient: str | None
    locale: str | None
    priority: int = Field(description="claimed highest first: authority notices go first")
    puid: str | None
    last_response: dict | None = Field(description="e.g. the Transparency Database's "
                                       "per-statement errors of a 422")
    source_event_id: str
    source_event_type: str
    subject_id: str
    correlation_id: str | None
    case_id: uuid.UUID | None
    decision_id: uuid.UUID | None
    report_ids: list[uuid.UUID]
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls.model_validate(notification, from_attributes=True)


class NotificationDetail(NotificationOut):
    delivery_attempts: list[AttemptOut]

    @classmethod
    def with_attempts(cls, notification: Notification, attempts: list[DeliveryAttempt]
                      ) -> NotificationDetail:
        return cls(**NotificationOut.of(notification).model_dump(),
                   delivery_attempts=[AttemptOut.model_validate(a, from_attributes=True)
                                      for a in attempts])


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page")


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    _: Operator, rt: RuntimeDep,
    status: Annotated[NotificationStatus | None, Query(description="only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NotificationPage:
    after = parse_page_cursor(cursor) if cursor else None
    async with rt.sessions() as session:
        rows = await persistence.list_notifications(session, status=status, limit=limit + 1,
                                                    after=after)
    page, more = rows[:limit], len(rows) > limit
    return NotificationPage(items=[NotificationOut.of(n) for n in page],
                            next_cursor=page_cursor(page[-1].created_at, page[-1].id)
                            if more else None)


@router.get("/notifications/{notification_id}", response_model=NotificationDetail)
async def read_notification(notification_id: uuid.UUID, _: Operator,
                            rt: RuntimeDep) -> NotificationDetail:
    async with rt.sessions() as session:
        notification = await persistence.get_notification(session, notification_id)
        if notification is None:
            raise NotFound(f"no notification {notification_id}")
        attempts = await persistence.attempts_of(session, notification_id)
    return NotificationDetail.with_attempts(notification, attempts)


@router.post("/notifications/{notification_id}/redeliver", status_code=202,
             response_model=NotificationOut)
async def redeliver(notification_id: uuid.UUID, _: Operator, rt: RuntimeDep) -> NotificationOut:
    """Send a delivered or dead notification again, with a fresh retry budget."""
    now = datetime.now(UTC)
    async with rt.sessions() as session, session.begin():
        notification = await persistence.lock_notification(session, notification_id)
        if notification is None:
            raise NotFound(f"no notification {notification_id}")
        transition = redelivery(NotificationStatus(notification.status), now=now)
        persistence.apply_transition(notification, transition, now=now)
        notification.attempts_in_round = 0
        session.add(notification)
        await rt.extras["service"].wake.after_commit(session)
    return NotificationOut.of(notification)
