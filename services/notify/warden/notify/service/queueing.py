"""Queueing notices: each notice to the endpoints of its audience, its body rendered for the
endpoint's kind, every notification of a run in one statement."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify import persistence
from warden.notify.domain import EndpointKind, References, email_body, notice_webhook_body
from warden.notify.notices import Audience, Notice
from warden.notify.templates import Rendered, TemplateCatalogue
from warden.shared.clock import utcnow
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.observability import get_logger
from warden.shared.wakeup import CommitWake

log = get_logger(__name__)

NOTICES_WITHOUT_ENDPOINT = Counter(
    "warden_notices_without_endpoint_total",
    "Notices owed to an audience that no endpoint takes (nothing queued for them)",
    ["service", "audience", "notice"])


@dataclass
class NoticeQueue:
    templates: TemplateCatalogue
    service_name: str = "notify"
    # The delivery workers, once the transaction that queued notifications commits.
    wake: CommitWake = field(default_factory=lambda: CommitWake(persistence.PENDING_CHANNEL))

    async def rows(self, session: AsyncSession, event: CloudEvent, notices: list[Notice], *,
                   subject_id: str, case_id: uuid.UUID | None = None,
                   decision_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        """The notifications of these notices, one per endpoint that takes each (made in the
        caller's record scope: each row carries that record's trace)."""
        rows, now = [], utcnow()
        for notice in notices:
            targets = self._targets(notice, await persistence.audience_endpoints(
                session, notice.audience))
            if not targets:
                # Counted, not logged per notice: an audience without an endpoint is a
                # configuration choice, and a line per report would bury the log.
                NOTICES_WITHOUT_ENDPOINT.labels(self.service_name, notice.audience.value,
                                                notice.kind.value).inc()
            refs = References(subject_id=subject_id, case_id=case_id, decision_id=decision_id,
                              report_ids=[uuid.UUID(r) for r in notice.report_ids])
            for endpoint in targets:
                notification_id = uuid.uuid4()
                rows.append(persistence.notification_row(
                    notification_id=notification_id, endpoint=endpoint, event=event,
                    refs=refs, now=now, dedupe_key=notice.dedupe_key,
                    body=self._body(notification_id, notice, endpoint, event),
                    audience=notice.audience.value, notice=notice.kind.value,
                    recipient=notice.email if endpoint.kind == EndpointKind.EMAIL.value
                    else notice.recipient, locale=notice.locale,
                    priority=notice.priority, puid=notice.puid))
        return rows

    async def insert(self, session: AsyncSession, rows: list[dict[str, Any]], *,
                     events: list[CloudEvent]) -> int:
        """Queue the rows (those queued before are skipped) and wake the delivery workers."""
        created = await persistence.insert_notifications(session, rows)
        if created:
            await self.wake.after_commit(session)
        log.info("notices_queued", event_id=events[0].id if len(events) == 1 else None,
                 events=len(events), type=events[0].type if events else None,
                 notifications=len(rows), created=created)
        return created

    async def queue(self, session: AsyncSession, event: CloudEvent, notices: list[Notice], *,
                    subject_id: str, case_id: uuid.UUID | None = None,
                    decision_id: uuid.UUID | None = None) -> int:
        rows = await self.rows(session, event, notices, subject_id=subject_id,
                               case_id=case_id, decision_id=decision_id)
        return await self.insert(session, rows, events=[event])

    @staticmethod
    def _targets(notice: Notice, endpoints: list) -> list:
        """An email address goes by email when an email endpoint takes the audience; anyone
        else through the webhook endpoints (the platform's messaging endpoint)."""
        if notice.audience is Audience.TRANSPARENCY_DB:
            return [e for e in endpoints if e.kind == EndpointKind.TRANSPARENCY_DB.value]
        email = [e for e in endpoints if e.kind == EndpointKind.EMAIL.value]
        if notice.email and email:
            return email
        return [e for e in endpoints if e.kind == EndpointKind.WEBHOOK.value]

    def _body(self, notification_id: uuid.UUID, notice: Notice, endpoint,
              event: CloudEvent) -> str:
        if endpoint.kind == EndpointKind.TRANSPARENCY_DB.value:
            return json.dumps(notice.document, ensure_ascii=False)
        rendered = self.render(notice)
        if endpoint.kind == EndpointKind.EMAIL.value:
            return email_body(notice, rendered)
        return notice_webhook_body(notification_id, notice, rendered, event)

    def render(self, notice: Notice) -> Rendered:
        return self.templates.render(notice.kind, notice.locale, notice.context)
