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
    CircuitPolicy,
    EndpointKind,
    NotificationStatus,
    References,
    Transition,
    wants,
    webhook_body,
)
from warden.notify.models import DeliveryAttempt, Endpoint, KnownReport, Notification
from warden.notify.notices import Audience
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import Conflict

# Committing a transaction that ran ``pg_notify`` on this channel wakes every delivery worker.
PENDING_CHANNEL = "warden_notify_pending"
CONFIGURED_ENDPOINT = "configured"
# Why a configured endpoint is off: its URL was taken out of the environment. Such an endpoint
# gets no new notices; one an operator paused, or that answered 410, keeps queueing them for
# the day it is enabled again.
REMOVED_FROM_CONFIGURATION = "removed from the configuration"

_notifications = Notification.__table__
_endpoints = Endpoint.__table__


async def wake_delivery_workers(session: AsyncSession) -> None:
    """Delivered by PostgreSQL on commit only, so a worker never looks too early."""
    await session.exec(sa.select(sa.func.pg_notify(PENDING_CHANNEL, "")))


# --- endpoints ---------------------------------------------------------------------------

async def upsert_endpoint(session: AsyncSession, *, name: str, url: str, secret: str,
                          event_types: list[str], now: datetime,
                          kind: EndpointKind = EndpointKind.WEBHOOK,
                          audiences: list[str] | None = None,
                          rotation_overlap: timedelta = timedelta(hours=24)) -> None:
    """Keep a configured endpoint as the environment says. A changed secret is a rotation:
    the old one keeps signing too for ``rotation_overlap``."""
    e = _endpoints
    statement = insert(e).values(id=uuid.uuid4(), name=name, url=url, secret=secret,
                                 event_types=event_types, enabled=True, kind=kind.value,
                                 audiences=audiences or [], created_at=now, updated_at=now)
    rotated = e.c.secret != statement.excluded.secret
    await session.exec(statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"url": url, "secret": secret, "event_types": event_types, "enabled": True,
              "kind": kind.value, "audiences": audiences or [], "disabled_reason": None,
              "previous_secret": sa.case((rotated, e.c.secret), else_=e.c.previous_secret),
              "previous_secret_expires_at": sa.case((rotated, now + rotation_overlap),
                                                    else_=e.c.previous_secret_expires_at),
              "updated_at": now}))


async def disable_endpoint_named(session: AsyncSession, name: str, *, now: datetime) -> None:
    await session.exec(sa.update(_endpoints).where(_endpoints.c.name == name)
                          .values(enabled=False, disabled_reason=REMOVED_FROM_CONFIGURATION,
                                  updated_at=now))


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
    """Webhook endpoints that take this raw event type (downstream enforcement tools)."""
    enabled = (await session.exec(select(Endpoint).where(
        Endpoint.enabled, Endpoint.kind == EndpointKind.WEBHOOK.value))).all()
    return [e for e in enabled if wants(e.event_types, event_type)]


async def audience_endpoints(session: AsyncSession, audience: Audience) -> list[Endpoint]:
    """Endpoints of every kind subscribed to an audience's notices: a paused (or gone)
    endpoint still queues them, so nothing owed to a person is lost while it is off."""
    live = (await session.exec(select(Endpoint).where(sa.or_(
        Endpoint.enabled, sa.func.coalesce(_endpoints.c.disabled_reason, "")
        != REMOVED_FROM_CONFIGURATION)))).all()
    return [e for e in live if audience.value in (e.audiences or [])]


async def rotate_secret(session: AsyncSession, endpoint: Endpoint, new_secret: str, *,
                        now: datetime, overlap: timedelta) -> None:
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.secret = new_secret
    endpoint.updated_at = now
    session.add(endpoint)


async def record_endpoint_health(session: AsyncSession, endpoint_id: uuid.UUID, *,
                                 failed: bool, gone_reason: str | None, now: datetime,
                                 circuit: CircuitPolicy) -> None:
    """Success closes the circuit; a retryable failure counts toward opening it; a 410
    disables the endpoint until an operator enables it again."""
    e = _endpoints
    if gone_reason:
        await session.exec(sa.update(e).where(e.c.id == endpoint_id).values(
            enabled=False, disabled_reason=gone_reason, updated_at=now))
        return
    if not failed:
        await session.exec(sa.update(e).where(e.c.id == endpoint_id,
                                              e.c.consecutive_failures != 0)
                           .values(consecutive_failures=0, circuit_open_until=None))
        return
    failures = await session.scalar(
        sa.update(e).where(e.c.id == endpoint_id)
        .values(consecutive_failures=e.c.consecutive_failures + 1)
        .returning(e.c.consecutive_failures))
    if failures is not None:
        open_until = circuit.open_until(failures, now)
        if open_until is not None:
            await session.exec(sa.update(e).where(e.c.id == endpoint_id)
                               .values(circuit_open_until=open_until))


# --- what notify remembers of reports ----------------------------------------------------

async def remember_report(session: AsyncSession, values: dict) -> KnownReport:
    """Upsert the reporter's side of a report; keeps what ``cases.routed`` wrote already."""
    k = KnownReport.__table__
    statement = insert(k).values(**values)
    update = {c: statement.excluded[c] for c in values if c != "report_id"}
    await session.exec(statement.on_conflict_do_update(index_elements=["report_id"],
                                                       set_=update))
    return await _known(session, values["report_id"])


async def remember_routing(session: AsyncSession, report_id: uuid.UUID, *, case_id: uuid.UUID,
                           routed_at: datetime, queue: str) -> KnownReport:
    """The first routing of a report counts (a later transfer does not re-time the receipt)."""
    k = KnownReport.__table__
    statement = insert(k).values(report_id=report_id, case_id=case_id, routed_at=routed_at,
                                 queue=queue)
    await session.exec(statement.on_conflict_do_update(
        index_elements=["report_id"],
        set_={"case_id": sa.func.coalesce(k.c.case_id, statement.excluded.case_id),
              "routed_at": sa.func.coalesce(k.c.routed_at, statement.excluded.routed_at),
              "queue": sa.func.coalesce(k.c.queue, statement.excluded.queue)}))
    return await _known(session, report_id)


async def _known(session: AsyncSession, report_id: uuid.UUID) -> KnownReport:
    row = await session.get(KnownReport, report_id, populate_existing=True)
    assert row is not None
    return row


async def known_reports(session: AsyncSession, report_ids: list[uuid.UUID]) -> list[KnownReport]:
    if not report_ids:
        return []
    return list((await session.exec(select(KnownReport).where(
        KnownReport.report_id.in_(report_ids)))).all())


# --- notifications -----------------------------------------------------------------------

async def create_notifications(session: AsyncSession, event: CloudEvent, refs: References,
                               endpoints: list[Endpoint], *, now: datetime) -> int:
    """Raw events for subscribers: one per endpoint; an event already queued is skipped."""
    created = 0
    for endpoint in endpoints:
        notification_id = uuid.uuid4()
        if await insert_notification(
                session, notification_id=notification_id, endpoint=endpoint, event=event,
                refs=refs, body=webhook_body(notification_id, event), now=now,
                dedupe_key=event.id, audience=Audience.SUBSCRIBER.value):
            created += 1
    if created:
        await wake_delivery_workers(session)
    return created


async def insert_notification(session: AsyncSession, *, notification_id: uuid.UUID,
                              endpoint: Endpoint, event: CloudEvent, refs: References, body: str,
                              now: datetime, dedupe_key: str, audience: str,
                              notice: str | None = None, recipient: str | None = None,
                              locale: str | None = None, priority: int = 0,
                              puid: str | None = None) -> bool:
    """Queue one notification; False when this endpoint has it already (exactly once)."""
    statement = insert(_notifications).values(
        id=notification_id, endpoint_id=endpoint.id, source_event_id=event.id,
        source_event_type=event.type, subject_id=refs.subject_id,
        correlation_id=event.correlationid, case_id=refs.case_id,
        decision_id=refs.decision_id, report_ids=[str(r) for r in refs.report_ids],
        body=body, status=NotificationStatus.PENDING.value, attempts=0, attempts_in_round=0,
        next_attempt_at=now, created_at=now, updated_at=now, dedupe_key=dedupe_key,
        audience=audience, notice=notice, channel=endpoint.kind, recipient=recipient,
        locale=locale, priority=priority, puid=puid,
    ).on_conflict_do_nothing(constraint="notifications_once_per_key").returning(
        _notifications.c.id)
    return (await session.exec(statement)).first() is not None


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
    endpoint_id: uuid.UUID | None = None
    kind: str = EndpointKind.WEBHOOK.value
    secrets: tuple[str, ...] = ()
    puid: str | None = None
    audience: str | None = None
    notice: str | None = None
    endpoint_failures: int = 0  # when leased: a success then needs no write to the endpoint


def _circuit_closed(now: datetime):
    e = _endpoints
    return sa.or_(e.c.circuit_open_until.is_(None), e.c.circuit_open_until <= now)


async def claim_due(session: AsyncSession, *, limit: int, now: datetime, lease: timedelta,
                    kinds: tuple[str, ...] = (EndpointKind.WEBHOOK.value,
                                              EndpointKind.EMAIL.value)) -> list[Claim]:
    """Lease due notifications, highest priority first (authority notices never wait behind a
    backlog of user notices), then the longest due; rows another replica is claiming right
    now are skipped, and so are endpoints whose circuit is open."""
    n, e = _notifications, _endpoints
    rows = (await session.exec(
        sa.select(n.c.id, n.c.body, n.c.correlation_id, n.c.puid, n.c.audience, n.c.notice,
                  e.c.id.label("endpoint_id"), e.c.name, e.c.url, e.c.secret, e.c.kind,
                  e.c.previous_secret, e.c.previous_secret_expires_at,
                  e.c.consecutive_failures)
        .join(e, e.c.id == n.c.endpoint_id)
        .where(n.c.status == NotificationStatus.PENDING.value, n.c.next_attempt_at <= now,
               e.c.enabled, e.c.kind.in_(kinds), _circuit_closed(now))
        .order_by(n.c.priority.desc(), n.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=n, skip_locked=True)
    )).all()
    claims = [Claim(notification_id=row.id, token=uuid.uuid4(), endpoint_name=row.name,
                    url=row.url, secret=row.secret, body=row.body,
                    correlation_id=row.correlation_id, endpoint_id=row.endpoint_id,
                    kind=row.kind, secrets=_signing_secrets(row, now), puid=row.puid,
                    audience=row.audience, notice=row.notice,
                    endpoint_failures=row.consecutive_failures) for row in rows]
    for claim in claims:
        await session.exec(sa.update(n).where(n.c.id == claim.notification_id).values(
            claim_token=claim.token, next_attempt_at=now + lease))
    return claims


def _signing_secrets(row, now: datetime) -> tuple[str, ...]:
    if row.previous_secret and row.previous_secret_expires_at \
            and row.previous_secret_expires_at > now:
        return (row.secret, row.previous_secret)
    return (row.secret,)


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
    due = sa.func.greatest(n.c.next_attempt_at,
                           sa.func.coalesce(e.c.circuit_open_until, n.c.next_attempt_at))
    return await session.scalar(
        sa.select(sa.func.min(due)).join(e, e.c.id == n.c.endpoint_id)
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
