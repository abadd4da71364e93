"""Reads and writes of the notify service's tables, by what they serve: endpoints, what
notify knows of reports, notifications."""

from warden.notify.persistence.endpoints import (
    CONFIGURED_ENDPOINT,
    REMOVED_FROM_CONFIGURATION,
    add_endpoint,
    audience_endpoints,
    disable_endpoint_named,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    subscribed_endpoints,
    upsert_endpoint,
)
from warden.notify.persistence.notifications import (
    PENDING_CHANNEL,
    apply_transition,
    attempts_of,
    get_notification,
    insert_notifications,
    list_notifications,
    lock_notification,
    notification_row,
    subscriber_rows,
)
from warden.notify.persistence.reports import (
    await_reports,
    known_reports,
    remember_reports,
    remember_routings,
    take_awaited,
)

__all__ = [
    "CONFIGURED_ENDPOINT",
    "PENDING_CHANNEL",
    "REMOVED_FROM_CONFIGURATION",
    "add_endpoint",
    "apply_transition",
    "attempts_of",
    "audience_endpoints",
    "await_reports",
    "disable_endpoint_named",
    "get_endpoint",
    "get_notification",
    "insert_notifications",
    "known_reports",
    "list_endpoints",
    "list_notifications",
    "lock_notification",
    "notification_row",
    "remember_reports",
    "remember_routings",
    "rotate_secret",
    "subscribed_endpoints",
    "subscriber_rows",
    "take_awaited",
    "upsert_endpoint",
]
