"""Notification rules: what is sent, to whom, and what happens after each attempt. No I/O here.

One module per concern, all reachable from here (``domain.after_attempt``):

- ``attempts``: a notification's states, the verdict of an answer, retries and their backoff;
- ``messages``: webhook and email bodies (the webhook payload is documented there), the
  references a notification is about, the outcome event;
- ``endpoints``: endpoint kinds, their URLs, audiences and event types, listing cursors.
"""

from __future__ import annotations

from warden.notify.domain.attempts import (
    FINISHED,
    RETRYABLE_4XX,
    AttemptResult,
    NotificationStatus,
    RetryPolicy,
    Transition,
    Verdict,
    after_attempt,
    describe_failure,
    redelivery,
)
from warden.notify.domain.endpoints import (
    ANY_EVENT,
    DEFAULT_EVENT_TYPES,
    SCHEMES,
    EndpointKind,
    page_cursor,
    parse_page_cursor,
    validate_audiences,
    validate_endpoint_url,
    validate_event_types,
    wants,
)
from warden.notify.domain.messages import (
    References,
    email_body,
    notice_webhook_body,
    outcome_event,
    references_of,
    references_of_notification,
    webhook_body,
)

__all__ = [
    "ANY_EVENT", "DEFAULT_EVENT_TYPES", "FINISHED", "RETRYABLE_4XX", "SCHEMES", "AttemptResult",
    "EndpointKind", "NotificationStatus", "References", "RetryPolicy", "Transition", "Verdict",
    "after_attempt", "describe_failure", "email_body", "notice_webhook_body", "outcome_event",
    "page_cursor", "parse_page_cursor", "redelivery", "references_of",
    "references_of_notification", "validate_audiences", "validate_endpoint_url",
    "validate_event_types", "wants", "webhook_body",
]
