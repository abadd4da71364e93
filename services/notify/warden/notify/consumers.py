"""The notify service's wiring: its configured endpoints, its consumers (each hands runs of
records to the use cases in ``service``) and its delivery worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from warden.notify import persistence
from warden.notify.delivery import DeliveryWorker
from warden.notify.domain import DEFAULT_EVENT_TYPES, EndpointKind
from warden.notify.notices import Audience, may_owe_an_authority_receipt
from warden.notify.service import NotifyService
from warden.notify.settings import NotifySettings
from warden.notify.templates import TemplateCatalogue
from warden.shared.app import Runtime
from warden.shared.contracts import topics
from warden.shared.contracts.events import CASE_ROUTED_V1, REPORT_NORMALIZED_V1
from warden.shared.db import transaction

EMAIL_ENDPOINT = "configured-email"
TRANSPARENCY_ENDPOINT = "transparency-database"


async def configure_endpoints_from_settings(runtime: Runtime) -> None:
    """The endpoints given in the environment are kept in ``endpoints`` (an empty URL
    disables one): the messaging webhook, the SMTP relay, the Transparency Database."""
    settings: NotifySettings = runtime.settings  # type: ignore[assignment]
    now = datetime.now(UTC)
    overlap = timedelta(seconds=settings.secret_rotation_overlap_s)
    configured = (
        (persistence.CONFIGURED_ENDPOINT, settings.webhook_url, settings.webhook_secret,
         EndpointKind.WEBHOOK, list(DEFAULT_EVENT_TYPES), settings.webhook_audiences),
        (EMAIL_ENDPOINT, settings.smtp_url, "-", EndpointKind.EMAIL, [],
         settings.email_audiences),
        (TRANSPARENCY_ENDPOINT, settings.tdb_url, settings.tdb_token,
         EndpointKind.TRANSPARENCY_DB, [], [Audience.TRANSPARENCY_DB.value]),
    )
    async with transaction(runtime.sessions) as session:
        for name, url, secret, kind, event_types, audiences in configured:
            if url:
                await persistence.upsert_endpoint(
                    session, name=name, url=url, secret=secret, event_types=event_types,
                    kind=kind, audiences=audiences, now=now, rotation_overlap=overlap)
            else:
                await persistence.disable_endpoint_named(session, name, now=now)


async def wire(runtime: Runtime) -> None:
    settings: NotifySettings = runtime.settings  # type: ignore[assignment]
    # Broken templates stop the start-up with the locale and notice at fault.
    service = NotifyService(templates=TemplateCatalogue.load(),
                            service_name=settings.service_name)
    runtime.extras["service"] = service
    await configure_endpoints_from_settings(runtime)
    runtime.consumers.append(runtime.consumer(
        "reports", [topics.REPORTS_NORMALIZED], {},
        batch_handlers={REPORT_NORMALIZED_V1: service.on_reports}, background=True))
    # Its own consumer: an authority's receipt never waits behind a backlog of reports.
    runtime.consumers.append(runtime.consumer(
        "cases", [topics.CASES_ROUTED], {},
        batch_handlers={CASE_ROUTED_V1: service.on_cases_routed},
        wants={CASE_ROUTED_V1: may_owe_an_authority_receipt}, background=True))
    runtime.consumers.append(runtime.consumer(
        "decisions", [topics.DECISIONS_RECORDED], {},
        batch_handlers={event_type: service.on_decisions
                        for event_type in DEFAULT_EVENT_TYPES}, background=True))
    if settings.delivery_enabled:
        worker = DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                outbox=runtime.outbox)
        runtime.workers.append(worker)
        runtime.extras["delivery"] = worker
        service.wake.in_process(worker.wake)
