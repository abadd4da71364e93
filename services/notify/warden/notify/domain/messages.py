"""What is sent: the bodies of webhooks and emails, the references a notification is about,
and the outcome event once it is finished. No I/O here.

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
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warden.notify.domain.attempts import FINISHED, NotificationStatus
from warden.notify.notices import Notice
from warden.notify.templates import Rendered
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import NotificationDeliveredV1


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
