"""Where notifications go: endpoint kinds and the URLs, audiences and event types an endpoint
may have, and the cursor of the notification listings. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from warden.shared.contracts.events import DECISION_RECORDED_V1, DECISION_RECORDED_V2
from warden.shared.cursors import decode_cursor, encode_cursor
from warden.shared.errors import InvalidInput

DEFAULT_EVENT_TYPES = (DECISION_RECORDED_V1, DECISION_RECORDED_V2)
ANY_EVENT = "*"


def wants(event_types: list[str], event_type: str) -> bool:
    return ANY_EVENT in event_types or event_type in event_types


class EndpointKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    TRANSPARENCY_DB = "transparency_db"


SCHEMES = {EndpointKind.WEBHOOK: ("http", "https"), EndpointKind.EMAIL: ("smtp", "smtps"),
           EndpointKind.TRANSPARENCY_DB: ("http", "https")}


def _url_problem(url: str, kind: EndpointKind) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of 0..65535
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in SCHEMES[kind]:
        return f"the scheme must be one of {list(SCHEMES[kind])} for a {kind.value} endpoint"
    if not parts.hostname:
        return "the URL needs a host"
    if port == 0:
        return "port 0 is not a port one can connect to"
    if parts.username is not None or parts.password is not None:
        return "credentials do not belong in the URL (a webhook is signed with its secret)"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "the URL contains whitespace or control characters"
    return None


def validate_endpoint_url(url: str, kind: EndpointKind = EndpointKind.WEBHOOK,
                          field: str = "body.url") -> str:
    problem = _url_problem(url, kind)
    if problem:
        raise InvalidInput(f"bad endpoint URL: {problem}",
                           errors=[{"field": field, "type": "url", "message": problem}])
    return url


def validate_audiences(audiences: list[str], known: set[str]) -> list[str]:
    unknown = sorted(set(audiences) - known)
    if unknown:
        raise InvalidInput("unknown audiences",
                           errors=[{"field": "body.audiences", "type": "enum",
                                    "message": f"unknown {unknown}; known: {sorted(known)}"}])
    return sorted(set(audiences))


def page_cursor(created_at: datetime, notification_id: uuid.UUID) -> str:
    """An opaque keyset cursor: where the next page of a newest-first listing starts."""
    return encode_cursor(created_at, notification_id)


def parse_page_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return decode_cursor(cursor, datetime, uuid.UUID)


def validate_event_types(event_types: list[str], known: set[str]) -> list[str]:
    """An endpoint subscribes to known event types, or to every type with ``*``."""
    unknown = sorted(set(event_types) - known - {ANY_EVENT})
    if not event_types or unknown:
        raise InvalidInput(
            "an endpoint subscribes to at least one known event type",
            errors=[{"field": "body.event_types", "type": "enum",
                     "message": f"unknown {unknown}; known: {sorted(known)} or '*'"
                     if unknown else "must not be empty"}])
    return sorted(set(event_types))
