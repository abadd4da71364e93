"""Webhook, email and Transparency Database endpoints: listing, creating and changing them,
and rotating a webhook's secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from warden.notify import persistence
from warden.notify.domain import (
    DEFAULT_EVENT_TYPES,
    EndpointKind,
    validate_audiences,
    validate_endpoint_url,
    validate_event_types,
)
from warden.notify.models import Endpoint
from warden.notify.notices import PERSON_AUDIENCES
from warden.notify.routes.common import Operator, new_router
from warden.notify.signing import InvalidSecret, generate_secret, secret_key
from warden.shared.contracts.events import EVENT_MODELS
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import InvalidInput, NotFound

router = new_router()


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
