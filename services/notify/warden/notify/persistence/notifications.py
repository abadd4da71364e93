"""Notifications: queued once per endpoint and dedupe key, read and listed for operators,
their state changed by the delivery worker."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.domain import NotificationStatus, References, Transition, webhook_body
from warden.notify.models import DeliveryAttempt, Notification
from warden.notify.notices import Audience
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.db import ArrayInsert
from warden.shared.tracing import current_traceparent

# The delivery workers LISTEN on this channel (``NoticeQueue.wake`` notifies it from a process
# without a worker of its own).
PENDING_CHANNEL = "warden_notify_pending"

_notifications = Notification.__table__


def subscriber_rows(event: CloudEvent, refs: References, endpoints: list, *,
                    now: datetime) -> list[dict[str, Any]]:
    """The raw event for each subscribed endpoint (downstream tools): one notification each,
    keyed by the event's id (an event queued before is skipped)."""
    rows = []
    for endpoint in endpoints:
        notification_id = uuid.uuid4()
        rows.append(notification_row(
            notification_id=notification_id, endpoint=endpoint, event=event, refs=refs,
            body=webhook_body(notification_id, event), now=now, dedupe_key=event.id,
            audience=Audience.SUBSCRIBER.value))
    return rows


def notification_row(*, notification_id: uuid.UUID, endpoint, event: CloudEvent,
                     refs: References, body: str, now: datetime, dedupe_key: str,
                     audience: str, notice: str | None = None, recipient: str | None = None,
                     locale: str | None = None, priority: int = 0,
                     puid: str | None = None) -> dict[str, Any]:
    """One notification to queue (every row has the same keys: they go in one statement)."""
    return dict(
        id=notification_id, endpoint_id=endpoint.id, source_event_id=event.id,
        source_event_type=event.type, subject_id=refs.subject_id,
        correlation_id=event.correlationid, case_id=refs.case_id,
        decision_id=refs.decision_id, report_ids=[str(r) for r in refs.report_ids],
        body=body, status=NotificationStatus.PENDING.value, attempts=0, attempts_in_round=0,
        next_attempt_at=now, created_at=now, updated_at=now, dedupe_key=dedupe_key,
        audience=audience, notice=notice, channel=endpoint.kind, recipient=recipient,
        locale=locale, priority=priority, puid=puid,
        # The consumer's span (which continues the event's trace), else the event's own.
        traceparent=current_traceparent() or event.traceparent)


async def insert_notifications(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Queue notifications in one statement; one an endpoint has already (the same dedupe
    key, from this run or an earlier one) is skipped, so each is queued exactly once.
    How many were new."""
    if not rows:
        return 0
    return len(await _queue(tuple(rows[0])).execute(session, rows))


@functools.cache
def _queue(columns: tuple[str, ...]) -> ArrayInsert:
    return ArrayInsert(_notifications, columns, returning=("id",),
                       then="ON CONFLICT ON CONSTRAINT notifications_once_per_key DO NOTHING")


async def lock_notification(session: AsyncSession, notification_id: uuid.UUID
                            ) -> Notification | None:
    return (await session.exec(select(Notification).where(Notification.id == notification_id)
                               .with_for_update())).first()


def apply_transition(notification: Notification, transition: Transition, *,
                     now: datetime) -> None:
    notification.status = transition.status.value
    notification.next_attempt_at = transition.next_attempt_at
    notification.claim_token = None
    notification.updated_at = now
    notification.finished_at = now if transition.finished else None


async def get_notification(session: AsyncSession, notification_id: uuid.UUID
                           ) -> Notification | None:
    return await session.get(Notification, notification_id)


async def attempts_of(session: AsyncSession, notification_id: uuid.UUID) -> list[DeliveryAttempt]:
    return list((await session.exec(
        select(DeliveryAttempt).where(DeliveryAttempt.notification_id == notification_id)
        .order_by(DeliveryAttempt.id))).all())


async def list_notifications(session: AsyncSession, *, status: NotificationStatus | None,
                             limit: int, after: tuple[datetime, uuid.UUID] | None
                             ) -> list[Notification]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == status.value)
    if after is not None:
        query = query.where(sa.tuple_(_notifications.c.created_at, _notifications.c.id)
                            < sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    query = query.order_by(_notifications.c.created_at.desc(), _notifications.c.id.desc())
    return list((await session.exec(query.limit(limit))).all())
