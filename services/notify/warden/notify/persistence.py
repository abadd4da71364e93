"""Reads and writes of the notify service's tables."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.domain import (
    EndpointKind,
    NotificationStatus,
    References,
    Transition,
    wants,
    webhook_body,
)
from warden.notify.models import (
    AwaitedReport,
    DeliveryAttempt,
    Endpoint,
    KnownReport,
    Notification,
)
from warden.notify.notices import Audience
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import Conflict
from warden.shared.tracing import current_traceparent

# Committing a transaction that ran ``pg_notify`` on this channel wakes every delivery worker.
PENDING_CHANNEL = "warden_notify_pending"
CONFIGURED_ENDPOINT = "configured"
# Why a configured endpoint is off: its URL was taken out of the environment. Such an endpoint
# gets no new notices; one an operator paused, or that answered 410, keeps queueing them for
# the day it is enabled again.
REMOVED_FROM_CONFIGURATION = "removed from the configuration"

_notifications = Notification.__table__
_endpoints = Endpoint.__table__


_WOKEN_IN = "warden.notify.woken_in"
_ENDPOINTS_IN = "warden.notify.endpoints_in"


def _once_per_transaction(session: AsyncSession, key: str):
    """(the current transaction, what was kept under ``key`` for it, or None)."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(key)
    return transaction, (kept[1] if kept and transaction is not None
                         and kept[0] is transaction else None)


async def wake_delivery_workers(session: AsyncSession) -> None:
    """Delivered by PostgreSQL on commit only, so a worker never looks too early; once per
    transaction is enough (a batch of consumed events queues many notifications in one)."""
    transaction, woken = _once_per_transaction(session, _WOKEN_IN)
    if woken:
        return
    await session.exec(sa.select(sa.func.pg_notify(PENDING_CHANNEL, "")))
    session.info[_WOKEN_IN] = (transaction, True)


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


async def _live_endpoints(session: AsyncSession) -> list:
    """Every endpoint not taken out of the configuration (rows, not tracked objects), read
    once per transaction: a batch of consumed events reads the table once, not per notice."""
    transaction, live = _once_per_transaction(session, _ENDPOINTS_IN)
    if live is None:
        e = _endpoints
        live = (await session.execute(sa.select(e.c.id, e.c.kind, e.c.enabled, e.c.event_types,
                                                e.c.audiences).where(sa.or_(
            e.c.enabled, sa.func.coalesce(e.c.disabled_reason, "")
            != REMOVED_FROM_CONFIGURATION)).order_by(e.c.created_at, e.c.name))).all()
        session.info[_ENDPOINTS_IN] = (transaction, live)
    return live


async def subscribed_endpoints(session: AsyncSession, event_type: str) -> list:
    """Webhook endpoints that take this raw event type (downstream enforcement tools)."""
    return [e for e in await _live_endpoints(session)
            if e.enabled and e.kind == EndpointKind.WEBHOOK.value
            and wants(e.event_types, event_type)]


async def audience_endpoints(session: AsyncSession, audience: Audience) -> list:
    """Endpoints of every kind subscribed to an audience's notices: a paused (or gone)
    endpoint still queues them, so nothing owed to a person is lost while it is off."""
    return [e for e in await _live_endpoints(session) if audience.value in (e.audiences or [])]


async def rotate_secret(session: AsyncSession, endpoint: Endpoint, new_secret: str, *,
                        now: datetime, overlap: timedelta) -> None:
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.secret = new_secret
    endpoint.updated_at = now
    session.add(endpoint)


# --- what notify remembers of reports ----------------------------------------------------

async def remember_reports(session: AsyncSession, values: list[dict]) -> dict[uuid.UUID, Any]:
    """Upsert the reporter's side of reports (one report once, rows in report order so two
    transactions lock them in the same order); keeps what ``cases.routed`` wrote already.
    The rows as they now are, by report id (one statement)."""
    if not values:
        return {}
    k = KnownReport.__table__
    statement = insert(k)
    update = {c: statement.excluded[c] for c in values[0] if c != "report_id"}
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_=update).returning(*k.c),
        sorted(values, key=lambda v: v["report_id"]))).all()
    return {row.report_id: row for row in rows}


async def remember_routings(session: AsyncSession, routings: list[dict]) -> dict[uuid.UUID, Any]:
    """Where reports were routed (``report_id``, ``case_id``, ``routed_at``, ``queue``; one
    report once). The first routing of a report counts: a later transfer does not re-time the
    receipt. The rows as they now are, by report id (one statement)."""
    if not routings:
        return {}
    k = KnownReport.__table__
    statement = insert(k)
    kept = {c: sa.func.coalesce(k.c[c], statement.excluded[c])
            for c in ("case_id", "routed_at", "queue")}
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_=kept).returning(*k.c),
        sorted(routings, key=lambda v: v["report_id"]))).all()
    return {row.report_id: row for row in rows}


async def known_reports(session: AsyncSession, report_ids: list[uuid.UUID]
                        ) -> dict[uuid.UUID, Any]:
    """The reports as notify knows them, by report id, each row locked (an empty one is made
    for a report not seen yet). The lock orders a decision against its report's own
    transaction: one running at the same time is waited for and then seen, or it waits for
    this one and then sees what this one left for it (``await_reports``). A run locks all its
    rows in one statement, in report order, as the runs of reports and routed cases do: two
    runs never wait for each other in a circle."""
    if not report_ids:
        return {}
    k = KnownReport.__table__
    statement = insert(k).values([{"report_id": r} for r in sorted(set(report_ids))])
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_={"report_id": statement.excluded.report_id})
        .returning(*k.c))).all()
    return {row.report_id: row for row in rows}


async def await_reports(session: AsyncSession, report_ids: list[uuid.UUID],
                        event: CloudEvent) -> None:
    """Keep a decision for reports not seen yet (once per report and decision event)."""
    if not report_ids:
        return
    a = AwaitedReport.__table__
    await session.execute(insert(a).on_conflict_do_nothing(), [
        {"report_id": r, "decision_event_id": event.id, "decision_event": event.to_bytes()}
        for r in report_ids])


async def take_awaited(session: AsyncSession, report_ids: list[uuid.UUID]
                       ) -> list[tuple[uuid.UUID, CloudEvent]]:
    """The decisions that waited for these reports, as (report id, decision event), removed
    from the waiting list (in the transaction that queues their notices, so none is lost or
    told twice)."""
    if not report_ids:
        return []
    a = AwaitedReport.__table__
    rows = (await session.execute(sa.delete(a).where(a.c.report_id.in_(report_ids))
                                  .returning(a.c.report_id, a.c.decision_event))).all()
    return [(row.report_id, CloudEvent.from_bytes(row.decision_event)) for row in rows]


# --- notifications -----------------------------------------------------------------------

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
    statement = insert(_notifications).on_conflict_do_nothing(
        constraint="notifications_once_per_key").returning(_notifications.c.id)
    return len((await session.execute(statement, rows)).all())


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
