"""Event handlers of the notify service (thin: parse, delegate, persist) and its wiring."""

from __future__ import annotations

from datetime import UTC, datetime

from warden.notify import persistence
from warden.notify.delivery import DeliveryWorker
from warden.notify.domain import DEFAULT_EVENT_TYPES, references_of
from warden.notify.settings import NotifySettings
from warden.shared.app import Runtime
from warden.shared.bus.consumer import Delivery
from warden.shared.contracts import topics
from warden.shared.db import transaction
from warden.shared.observability import get_logger

log = get_logger(__name__)


async def on_notifiable_event(delivery: Delivery) -> None:
    """Queue the event for every subscribed endpoint, in the consumer's inbox transaction.

    The notifications commit together with the inbox record, so an accepted event is never
    lost and a redelivered one never queued twice; the commit wakes the delivery workers.
    """
    event = delivery.event
    endpoints = await persistence.subscribed_endpoints(delivery.session, event.type)
    created = await persistence.create_notifications(
        delivery.session, event, references_of(event, delivery.payload), endpoints,
        now=datetime.now(UTC))
    log.info("notifications_queued", event_id=event.id, type=event.type, created=created,
             endpoints=len(endpoints))


async def configure_endpoint_from_settings(runtime: Runtime) -> None:
    """The endpoint given in the environment is kept in ``endpoints`` (an empty URL disables it)."""
    settings: NotifySettings = runtime.settings  # type: ignore[assignment]
    now = datetime.now(UTC)
    async with transaction(runtime.sessions) as session:
        if settings.webhook_url:
            await persistence.upsert_endpoint(
                session, name=persistence.CONFIGURED_ENDPOINT, url=settings.webhook_url,
                secret=settings.webhook_secret, event_types=list(DEFAULT_EVENT_TYPES), now=now)
        else:
            await persistence.disable_endpoint_named(session, persistence.CONFIGURED_ENDPOINT,
                                                     now=now)


async def wire(runtime: Runtime) -> None:
    settings: NotifySettings = runtime.settings  # type: ignore[assignment]
    await configure_endpoint_from_settings(runtime)
    runtime.consumers.append(runtime.consumer(
        "decisions", [topics.DECISIONS_RECORDED],
        {event_type: on_notifiable_event for event_type in DEFAULT_EVENT_TYPES}))
    if settings.delivery_enabled:
        worker = DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                outbox=runtime.outbox)
        runtime.workers.append(worker)
        runtime.extras["delivery"] = worker
