"""Notification rules: what is sent, to whom, and what happens after each attempt. No I/O here.

Webhook payload (the JSON body of every POST; documented for receivers)::

    {
      "type": "warden.decision.recorded.v1",      # the event type, also the kind of notification
      "timestamp": "2026-01-01T12:00:00Z",        # when the fact happened (the event's time)
      "notification_id": "<uuid>",                # equals the webhook-id header
      "event": { ...the CloudEvent as published on Kafka, data included... }
    }

The body is fixed when the notification is created, so every retry sends the same bytes;
only ``webhook-timestamp`` and the signature change per attempt.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from warden.notify.notices import Notice
from warden.notify.templates import Rendered
from warden.shared.backoff import backoff_delay
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    DECISION_RECORDED_V1,
    DECISION_RECORDED_V2,
    NotificationDeliveredV1,
)
from warden.shared.cursors import decode_cursor, encode_cursor
from warden.shared.errors import Conflict, InvalidInput

DEFAULT_EVENT_TYPES = (DECISION_RECORDED_V1, DECISION_RECORDED_V2)
ANY_EVENT = "*"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


FINISHED = frozenset({NotificationStatus.DELIVERED, NotificationStatus.DEAD})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return backoff_delay(attempt, initial=self.backoff_initial_s,
                             maximum=self.backoff_max_s, rng=rng)


class Verdict(StrEnum):
    """What an attempt's answer means for the notification."""

    DELIVERED = "delivered"
    RETRY = "retry"          # try again later (5xx, 429, timeouts, refused connections)
    PERMANENT = "permanent"  # the receiver refuses this message for good: dead at once
    GONE = "gone"            # 410: the endpoint is gone; it is disabled, the message is dead


# A 4xx means the receiver refuses this request; sending the same bytes again cannot help —
# except these, which say "later" or may be fixed on the receiver's side (its secret, its
# authorisation) without a change on ours.
RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 423, 425, 429})


@dataclass(frozen=True)
class AttemptResult:
    """What one POST (or SMTP transaction) came to."""

    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response: dict | None = None  # kept for an operator (e.g. the database's 422 errors)
    verdict_override: Verdict | None = None

    @property
    def succeeded(self) -> bool:
        return self.verdict is Verdict.DELIVERED

    @property
    def verdict(self) -> Verdict:
        if self.verdict_override is not None:
            return self.verdict_override
        code = self.status_code
        if code is None:
            return Verdict.RETRY
        if 200 <= code < 300:
            return Verdict.DELIVERED
        if code == 410:
            return Verdict.GONE
        if 400 <= code < 500 and code not in RETRYABLE_4XX:
            return Verdict.PERMANENT
        return Verdict.RETRY


@dataclass(frozen=True)
class Transition:
    status: NotificationStatus
    next_attempt_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def after_attempt(result: AttemptResult, *, attempt_in_round: int, policy: RetryPolicy,
                  now: datetime, rng: random.Random | None = None) -> Transition:
    """Delivered on a 2xx; dead on a permanent refusal; otherwise retried after a jittered
    backoff until the budget is spent.

    ``attempt_in_round`` counts attempts since the notification was created or last redelivered
    by an operator (1-based, including this one).
    """
    verdict = result.verdict
    if verdict is Verdict.DELIVERED:
        return Transition(NotificationStatus.DELIVERED, None)
    if verdict in (Verdict.PERMANENT, Verdict.GONE) or attempt_in_round >= policy.max_attempts:
        return Transition(NotificationStatus.DEAD, None)
    delay = policy.delay(attempt_in_round, rng)
    return Transition(NotificationStatus.PENDING, now + timedelta(seconds=delay))


def redelivery(status: NotificationStatus, *, now: datetime) -> Transition:
    """An operator sends a finished notification again, with a fresh retry budget."""
    if status not in FINISHED:
        raise Conflict("the notification is still pending: it will be sent without being asked")
    return Transition(NotificationStatus.PENDING, now)


def describe_failure(status_code: int | None, error: BaseException | None) -> str | None:
    """A short, log-safe reason for a failed attempt (never the response body)."""
    if error is not None:
        text = str(error).strip()
        return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__
    if status_code is not None and not 200 <= status_code < 300:
        return f"receiver answered HTTP {status_code}"
    return None


def wants(event_types: list[str], event_type: str) -> bool:
    return ANY_EVENT in event_types or event_type in event_types


def webhook_body(notification_id: uuid.UUID, event: CloudEvent) -> str:
    document = {
        "type": event.type,
        "timestamp": event.time.isoformat().replace("+00:00", "Z"),
        "notification_id": str(notification_id),
        "event": event.model_dump(mode="json", exclude_none=True),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def notice_webhook_body(notification_id: uuid.UUID, notice: Notice, rendered: Rendered,
                        source: CloudEvent) -> str:
    """A notice for a person, sent to the platform's messaging endpoint (or an authority's,
    a referral body's): the rendered message and the structured facts it was written from.

    ``data`` holds only what this audience may see: the affected user never gets the
    reporter's identity, the reporter never gets the facts written for the affected user.
    """
    document = {
        "type": f"warden.notice.{notice.kind.value}.v1",
        "timestamp": source.time.isoformat().replace("+00:00", "Z"),
        "notification_id": str(notification_id),
        "audience": notice.audience.value,
        "notice": notice.kind.value,
        "recipient": notice.recipient,
        "locale": rendered.locale,
        "message": {"subject": rendered.subject, "text": rendered.text},
        "data": notice.context,
        "source_event": {"id": source.id, "type": source.type},
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def email_body(notice: Notice, rendered: Rendered) -> str:
    """What the email channel sends (kept as JSON so every retry sends the same message)."""
    return json.dumps({"to": notice.email, "subject": rendered.subject, "text": rendered.text,
                       "html": rendered.html, "locale": rendered.locale,
                       "notice": notice.kind.value}, ensure_ascii=False)


@dataclass(frozen=True)
class References:
    """The identifiers a notification is about, kept as columns for search and for the outcome."""

    subject_id: str
    case_id: uuid.UUID | None
    decision_id: uuid.UUID | None
    report_ids: list[uuid.UUID]


def references_of(event: CloudEvent, payload: Any) -> References:
    subject = getattr(payload, "subject", None)
    subject_id = getattr(subject, "id", None) or event.subject or event.id
    return References(subject_id=subject_id,
                      case_id=getattr(payload, "case_id", None),
                      decision_id=getattr(payload, "decision_id", None),
                      report_ids=list(getattr(payload, "report_ids", None) or []))


def references_of_notification(notification: Any) -> References:
    """The references kept on a stored notification (report ids are stored as strings)."""
    return References(subject_id=notification.subject_id, case_id=notification.case_id,
                      decision_id=notification.decision_id,
                      report_ids=[uuid.UUID(str(r)) for r in notification.report_ids])


def outcome_event(*, notification_id: uuid.UUID, source_event_id: str, source_event_type: str,
                  endpoint_name: str, endpoint_url: str, status: NotificationStatus,
                  attempts: int, finished_at: datetime, refs: References,
                  audience: str | None = None, notice: str | None = None,
                  channel: str | None = None) -> NotificationDeliveredV1:
    if status not in FINISHED:
        raise ValueError(f"a notification that is {status} has no outcome yet")
    return NotificationDeliveredV1(
        notification_id=notification_id, source_event_id=source_event_id,
        source_event_type=source_event_type, recipient=endpoint_name, endpoint_url=endpoint_url,
        status=status.value, attempts=attempts, finished_at=finished_at, case_id=refs.case_id,
        decision_id=refs.decision_id, report_ids=refs.report_ids, audience=audience,
        notice=notice, channel=channel,
    )


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
