"""HTTP API for operators: the delivery log, redelivery, and webhook endpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from warden.notify import persistence
from warden.notify.domain import (
    DEFAULT_EVENT_TYPES,
    NotificationStatus,
    page_cursor,
    parse_page_cursor,
    redelivery,
    validate_endpoint_url,
    validate_event_types,
)
from warden.notify.models import DeliveryAttempt, Endpoint, Notification
from warden.notify.signing import InvalidSecret, generate_secret, secret_key
from warden.shared.app import Runtime
from warden.shared.auth import Reviewer, operator_from_request
from warden.shared.contracts.events import EVENT_MODELS
from warden.shared.errors import InvalidInput, NotFound

router = APIRouter(prefix="/v1", tags=["notifications"])
Operator = Annotated[Reviewer, Depends(operator_from_request)]


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(runtime)]


# --- schemas -----------------------------------------------------------------------------

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


class EndpointIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENT_TYPES),
                                   max_length=50)
    secret: str | None = Field(None, description="whsec_<base64>; generated when omitted")


class EndpointPatch(BaseModel):
    url: str | None = Field(None, max_length=2000)
    event_types: list[str] | None = Field(None, max_length=50)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: uuid.UUID
    name: str
    url: str
    event_types: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointOut:
        return cls.model_validate(endpoint, from_attributes=True)


class EndpointCreated(EndpointOut):
    secret: str = Field(description="shown once: the receiver verifies signatures with it")


# --- notifications -----------------------------------------------------------------------

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
        await persistence.wake_delivery_workers(session)
    return NotificationOut.of(notification)


# --- endpoints ---------------------------------------------------------------------------

def _checked_secret(secret: str) -> str:
    try:
        secret_key(secret)
    except InvalidSecret as exc:
        raise InvalidInput(str(exc), errors=[{"field": "body.secret", "type": "secret",
                                              "message": str(exc)}]) from None
    return secret


def _known_event_types() -> set[str]:
    return set(EVENT_MODELS)


@router.get("/endpoints", response_model=list[EndpointOut], tags=["endpoints"])
async def list_endpoints(_: Operator, rt: RuntimeDep) -> list[EndpointOut]:
    async with rt.sessions() as session:
        return [EndpointOut.of(e) for e in await persistence.list_endpoints(session)]


@router.post("/endpoints", status_code=201, response_model=EndpointCreated, tags=["endpoints"])
async def create_endpoint(body: EndpointIn, _: Operator, rt: RuntimeDep) -> EndpointCreated:
    now = datetime.now(UTC)
    endpoint = Endpoint(
        name=body.name, url=validate_endpoint_url(body.url),
        secret=_checked_secret(body.secret) if body.secret else generate_secret(),
        event_types=validate_event_types(body.event_types, _known_event_types()),
        enabled=True, created_at=now, updated_at=now)
    async with rt.sessions() as session, session.begin():
        await persistence.add_endpoint(session, endpoint)
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, tags=["endpoints"])
async def update_endpoint(endpoint_id: uuid.UUID, body: EndpointPatch, _: Operator,
                          rt: RuntimeDep) -> EndpointOut:
    """Change an endpoint's URL or subscriptions, or pause (``enabled: false``) its deliveries.

    The ``configured`` endpoint is re-read from the environment at every start-up.
    """
    async with rt.sessions() as session, session.begin():
        endpoint = await persistence.get_endpoint(session, endpoint_id)
        if endpoint is None:
            raise NotFound(f"no endpoint {endpoint_id}")
        if body.url is not None:
            endpoint.url = validate_endpoint_url(body.url)
        if body.event_types is not None:
            endpoint.event_types = validate_event_types(body.event_types, _known_event_types())
        if body.enabled is not None:
            endpoint.enabled = body.enabled
        endpoint.updated_at = datetime.now(UTC)
        session.add(endpoint)
        if endpoint.enabled:
            await persistence.wake_delivery_workers(session)  # resumed: its backlog is due
    return EndpointOut.of(endpoint)
