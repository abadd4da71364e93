"""Reads and writes of the notify service's tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.domain import (
    NotificationStatus,
    References,
    Transition,
    wants,
    webhook_body,
)
from warden.notify.models import DeliveryAttempt, Endpoint, Notification
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import Conflict

# Committing a transaction that ran ``pg_notify`` on this channel wakes every delivery worker.
PENDING_CHANNEL = "warden_notify_pending"
CONFIGURED_ENDPOINT = "configured"

_notifications = Notification.__table__
_endpoints = Endpoint.__table__


async def wake_delivery_workers(session: AsyncSession) -> None:
    """Delivered by PostgreSQL on commit only, so a worker never looks too early."""
    await session.exec(sa.select(sa.func.pg_notify(PENDING_CHANNEL, "")))


# --- endpoints ---------------------------------------------------------------------------

async def upsert_endpoint(session: AsyncSession, *, name: str, url: str, secret: str,
                          event_types: list[str], now: datetime) -> None:
    statement = insert(_endpoints).values(id=uuid.uuid4(), name=name, url=url, secret=secret,
                                          event_types=event_types, enabled=True,
                                          created_at=now, updated_at=now)
    await session.exec(statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"url": url, "secret": secret, "event_types": event_types, "enabled": True,
              "updated_at": now}))


async def disable_endpoint_named(session: AsyncSession, name: str, *, now: datetime) -> None:
    await session.exec(sa.update(_endpoints).where(_endpoints.c.name == name)
                          .values(enabled=False, updated_at=now))


async def add_endpoint(session: AsyncSession, endpoint: Endpoint) -> Endpoint:
    if (await session.exec(select(Endpoint.id).where(Endpoint.name == endpoint.name))).first():
        raise Conflict(f"an endpoint named {endpoint.name!r} exists already")
    session.add(endpoint)
    await session.flush()
    return endpoint


async def list_endpoints(session: AsyncSession) -> list[Endpoint]:
    return list((await session.exec(select(Endpoint).order_by(Endpoint.created_at,
                                                              Endpoint.name))).all())


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> Endpoint | None:
    return await session.get(Endpoint, endpoint_id)


async def subscribed_endpoints(session: AsyncSession, event_type: str) -> list[Endpoint]:
    enabled = (await session.exec(select(Endpoint).where(Endpoint.enabled))).all()
    return [e for e in enabled if wants(e.event_types, event_type)]


# --- notifications -----------------------------------------------------------------------

async def create_notifications(session: AsyncSession, event: CloudEvent, refs: References,
                               endpoints: list[Endpoint], *, now: datetime) -> int:
    """One pending notification per endpoint; an event already known to an endpoint is skipped."""
    created = 0
    for endpoint in endpoints:
        notification_id = uuid.uuid4()
        statement = insert(_notifications).values(
            id=notification_id, endpoint_id=endpoint.id, source_event_id=event.id,
            source_event_type=event.type, subject_id=refs.subject_id,
            correlation_id=event.correlationid, case_id=refs.case_id,
            decision_id=refs.decision_id, report_ids=[str(r) for r in refs.report_ids],
            body=webhook_body(notification_id, event), status=NotificationStatus.PENDING.value,
            attempts=0, attempts_in_round=0, next_attempt_at=now, created_at=now, updated_at=now,
        ).on_conflict_do_nothing(constraint="notifications_once_per_event").returning(
            _notifications.c.id)
        if (await session.exec(statement)).first() is not None:
            created += 1
    if created:
        await wake_delivery_workers(session)
    return created


@dataclass(frozen=True)
class Claim:
    """A notification a worker holds under a lease, with everything needed to send it."""

    notification_id: uuid.UUID
    token: uuid.UUID
    endpoint_name: str
    url: str
    secret: str
    body: str
    correlation_id: str | None = None


async def claim_due(session: AsyncSession, *, limit: int, now: datetime,
                    lease: timedelta) -> list[Claim]:
    """Lease due notifications; rows another replica is claiming right now are skipped."""
    n, e = _notifications, _endpoints
    rows = (await session.exec(
        sa.select(n.c.id, n.c.body, n.c.correlation_id, e.c.name, e.c.url, e.c.secret)
        .join(e, e.c.id == n.c.endpoint_id)
        .where(n.c.status == NotificationStatus.PENDING.value, n.c.next_attempt_at <= now,
               e.c.enabled)
        .order_by(n.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=n, skip_locked=True)
    )).all()
    claims = [Claim(notification_id=row.id, token=uuid.uuid4(), endpoint_name=row.name,
                    url=row.url, secret=row.secret, body=row.body,
                    correlation_id=row.correlation_id) for row in rows]
    for claim in claims:
        await session.exec(sa.update(n).where(n.c.id == claim.notification_id).values(
            claim_token=claim.token, next_attempt_at=now + lease))
    return claims


async def release_claim(session: AsyncSession, claim: Claim, *, now: datetime) -> int | None:
    """Give back a lease whose POST never finished; returns the attempt number it used, if held.

    The interrupted attempt counts in the total but not against the retry budget: the
    receiver may or may not have seen it, and the next attempt carries the same webhook-id.
    """
    n = _notifications
    return await session.scalar(
        sa.update(n).where(n.c.id == claim.notification_id, n.c.claim_token == claim.token)
        .values(claim_token=None, next_attempt_at=now, attempts=n.c.attempts + 1, updated_at=now)
        .returning(n.c.attempts))


async def next_due_at(session: AsyncSession) -> datetime | None:
    n, e = _notifications, _endpoints
    return await session.scalar(
        sa.select(sa.func.min(n.c.next_attempt_at)).join(e, e.c.id == n.c.endpoint_id)
        .where(n.c.status == NotificationStatus.PENDING.value, e.c.enabled))


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


async def add_attempt(session: AsyncSession, attempt: DeliveryAttempt) -> None:
    session.add(attempt)
    await session.flush()


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
