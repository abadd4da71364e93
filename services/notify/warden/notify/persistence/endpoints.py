"""The endpoints notify delivers to: kept as the environment configures them, added and
paused by operators, read once per transaction by the consumers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.domain import EndpointKind, wants
from warden.notify.models import Endpoint
from warden.notify.notices import Audience
from warden.shared.db import once_per_transaction
from warden.shared.errors import Conflict

CONFIGURED_ENDPOINT = "configured"
# Why a configured endpoint is off: its URL was taken out of the environment. Such an endpoint
# gets no new notices; one an operator paused, or that answered 410, keeps queueing them for
# the day it is enabled again.
REMOVED_FROM_CONFIGURATION = "removed from the configuration"

_endpoints = Endpoint.__table__
_ENDPOINTS_IN = "warden.notify.endpoints_in"


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
    transaction, live = once_per_transaction(session, _ENDPOINTS_IN)
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
