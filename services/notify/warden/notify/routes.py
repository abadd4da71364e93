"""HTTP API for operators: the delivery log, redelivery, and webhook endpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from warden.notify import persistence
from warden.notify.domain import (
    DEFAULT_EVENT_TYPES,
    EndpointKind,
    NotificationStatus,
    page_cursor,
    parse_page_cursor,
    redelivery,
    validate_audiences,
    validate_endpoint_url,
    validate_event_types,
)
from warden.notify.models import DeliveryAttempt, Endpoint, Notification
from warden.notify.notices import PERSON_AUDIENCES, locale_for
from warden.notify.service import NotifyService, preview as preview_notices
from warden.notify.signing import InvalidSecret, generate_secret, secret_key
from warden.shared.auth import Reviewer, operator_from_request
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import EVENT_MODELS, payload_model_for
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import InvalidInput, InvalidMessage, NotFound

router = APIRouter(prefix="/v1", tags=["notifications"])
Operator = Annotated[Reviewer, Depends(operator_from_request)]


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


class EndpointIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: EndpointKind = EndpointKind.WEBHOOK
    url: str = Field(max_length=2000, description="http(s) for webhooks and the Transparency "
                     "Database (its base URL), smtp(s)://host:port for email; no credentials")
    event_types: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENT_TYPES),
                                   max_length=50, description="raw events (webhooks only); "
                                   "[] for none")
    audiences: list[str] = Field(default_factory=list, max_length=10,
                                 description="notices for these audiences")
    secret: str | None = Field(None, description="webhooks: whsec_<base64>, generated when "
                               "omitted; Transparency Database: the API token")


class EndpointPatch(BaseModel):
    url: str | None = Field(None, max_length=2000)
    event_types: list[str] | None = Field(None, max_length=50)
    audiences: list[str] | None = Field(None, max_length=10)
    enabled: bool | None = None


class SecretRotation(BaseModel):
    secret: str | None = Field(None, description="the new whsec_ secret; generated if omitted")
    overlap_s: float = Field(86400.0, ge=0, le=30 * 86400,
                             description="how long the old secret keeps signing too")


class EndpointOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    url: str
    event_types: list[str]
    audiences: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    circuit_open_until: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="until then the previous secret signs too (rotation)")
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
        await rt.extras["service"].wake.after_commit(session)
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


_KNOWN_AUDIENCES = {a.value for a in PERSON_AUDIENCES}


def _event_types_for(kind: EndpointKind, event_types: list[str]) -> list[str]:
    if kind is not EndpointKind.WEBHOOK or not event_types:
        return []  # only webhooks carry raw events
    return validate_event_types(event_types, _known_event_types())


@router.get("/endpoints", response_model=list[EndpointOut], tags=["endpoints"])
async def list_endpoints(_: Operator, rt: RuntimeDep) -> list[EndpointOut]:
    async with rt.sessions() as session:
        return [EndpointOut.of(e) for e in await persistence.list_endpoints(session)]


@router.post("/endpoints", status_code=201, response_model=EndpointCreated, tags=["endpoints"])
async def create_endpoint(body: EndpointIn, _: Operator, rt: RuntimeDep) -> EndpointCreated:
    now = datetime.now(UTC)
    if body.kind is EndpointKind.TRANSPARENCY_DB and not body.secret:
        raise InvalidInput("a Transparency Database endpoint needs its API token",
                           errors=[{"field": "body.secret", "type": "missing",
                                    "message": "the API token goes in 'secret'"}])
    if body.kind is EndpointKind.WEBHOOK:
        secret = _checked_secret(body.secret) if body.secret else generate_secret()
    else:
        secret = body.secret or "-"
    audiences = validate_audiences(body.audiences, _KNOWN_AUDIENCES)
    event_types = _event_types_for(body.kind, body.event_types)
    if not audiences and not event_types:
        raise InvalidInput("an endpoint takes at least one audience or event type",
                           errors=[{"field": "body.audiences", "type": "missing",
                                    "message": "subscribe to audiences or event types"}])
    endpoint = Endpoint(
        name=body.name, kind=body.kind.value, url=validate_endpoint_url(body.url, body.kind),
        secret=secret, event_types=event_types, audiences=audiences,
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
        kind = EndpointKind(endpoint.kind)
        if body.url is not None:
            endpoint.url = validate_endpoint_url(body.url, kind)
        if body.event_types is not None:
            endpoint.event_types = _event_types_for(kind, body.event_types)
        if body.audiences is not None:
            endpoint.audiences = validate_audiences(body.audiences, _KNOWN_AUDIENCES)
        if body.enabled is not None:
            endpoint.enabled = body.enabled
            if body.enabled:  # an operator's "it is back" closes the circuit too
                endpoint.disabled_reason = None
                endpoint.consecutive_failures = 0
                endpoint.circuit_open_until = None
        endpoint.updated_at = datetime.now(UTC)
        session.add(endpoint)
        if endpoint.enabled:
            await rt.extras["service"].wake.after_commit(session)  # resumed: backlog due
    return EndpointOut.of(endpoint)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=EndpointCreated,
             tags=["endpoints"])
async def rotate_secret(endpoint_id: uuid.UUID, body: SecretRotation, _: Operator,
                        rt: RuntimeDep) -> EndpointCreated:
    """Give a webhook endpoint a new secret without downtime: for ``overlap_s`` every webhook
    carries two signatures (new and old secret), so the receiver may switch at any moment."""
    now = datetime.now(UTC)
    async with rt.sessions() as session, session.begin():
        endpoint = await persistence.get_endpoint(session, endpoint_id)
        if endpoint is None:
            raise NotFound(f"no endpoint {endpoint_id}")
        if endpoint.kind != EndpointKind.WEBHOOK.value:
            raise InvalidInput("only webhook endpoints sign with a secret",
                               errors=[{"field": "path.endpoint_id", "type": "kind",
                                        "message": f"this endpoint is {endpoint.kind}"}])
        new_secret = _checked_secret(body.secret) if body.secret else generate_secret()
        await persistence.rotate_secret(session, endpoint, new_secret, now=now,
                                        overlap=timedelta(seconds=body.overlap_s))
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=new_secret)


# --- templates ---------------------------------------------------------------------------

class PreviewIn(BaseModel):
    event: dict = Field(description="a CloudEvent as published on Kafka (reports.normalized, "
                        "decisions.recorded)")
    locale: str | None = Field(None, max_length=35, description="BCP 47; the notice's own "
                               "locale when omitted; unsupported ones fall back to English")


class PreviewNotice(BaseModel):
    notice: str
    audience: str
    locale: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    document: dict | None = Field(None, description="the Transparency Database statement")


@router.post("/templates/preview", response_model=list[PreviewNotice], tags=["templates"])
async def preview(body: PreviewIn, _: Operator, rt: RuntimeDep) -> list[PreviewNotice]:
    """Render the notices an event would cause, in a locale, without sending anything."""
    try:
        event = CloudEvent.model_validate(body.event)
        payload = payload_model_for(event.type).model_validate(event.data)
    except (ValueError, InvalidMessage) as exc:
        raise InvalidInput(f"not a known event: {exc}"[:500],
                           errors=[{"field": "body.event", "type": "event",
                                    "message": str(exc)[:500]}]) from None
    service: NotifyService = rt.extras["service"]
    locale = locale_for(body.locale) if body.locale else None
    return [PreviewNotice(**item) for item in preview_notices(service.templates, event, payload,
                                                               locale=locale)]

