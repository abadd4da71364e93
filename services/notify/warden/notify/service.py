"""Use cases of the notify service: turn facts into queued notifications, and preview them.

Every handler runs inside the consumer's inbox transaction, so the notifications it queues
commit together with the record that the event was handled: an accepted event is never lost,
a redelivered one never queued twice (and the ``dedupe_key`` of each notice stops a
duplicate published under another event id).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.clock import utcnow
from warden.notify import persistence
from warden.notify.domain import (
    EndpointKind,
    References,
    email_body,
    notice_webhook_body,
)
from warden.notify.models import Endpoint, KnownReport
from warden.notify.notices import (
    Audience,
    DecisionFacts,
    Notice,
    NoticeKind,
    ReportFacts,
    authority_receipt,
    decision_notices,
    reporter_receipt,
)
from warden.notify.templates import Rendered, TemplateCatalogue
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    CaseRoutedV1,
    DecisionRecordedV1,
    DecisionRecordedV2,
    ReportNormalizedV1,
)
from warden.shared.observability import get_logger

log = get_logger(__name__)



def report_facts(row: KnownReport) -> ReportFacts:
    return ReportFacts(
        report_id=str(row.report_id), channel=row.channel, reporter_id=row.reporter_id,
        contact_email=row.contact_email, locale=row.locale, authority=row.authority,
        authority_country=row.authority_country, order_reference=row.order_reference,
        order_type=row.order_type, deadline=row.deadline, subject_id=row.subject_id,
        received_at=row.received_at, case_id=str(row.case_id) if row.case_id else None,
        routed_at=row.routed_at, queue=row.queue)


def _report_values(event: CloudEvent, report: ReportNormalizedV1) -> dict[str, Any]:
    legal = report.legal
    country = (legal.authority_country if legal else None) or report.signals.get(
        "authority_country")
    return {"report_id": report.report_id, "channel": report.channel.value,
            "reporter_id": report.reporter.id, "contact_email": report.reporter.email,
            "locale": report.locale,
            "authority": legal.issuing_authority if legal else None,
            "authority_country": str(country) if country else None,
            "order_reference": legal.order_reference if legal else None,
            "order_type": legal.order_type if legal else None,
            "deadline": legal.deadline if legal else None, "subject_id": report.subject.id,
            "received_at": report.received_at, "normalized_event_id": event.id}


REFERRAL_AUDIENCES = {"refer_law_enforcement": Audience.LAW_ENFORCEMENT.value,
                      "refer_child_safety_hotline": Audience.CHILD_SAFETY_HOTLINE.value}


def decision_facts(payload: DecisionRecordedV2 | DecisionRecordedV1) -> DecisionFacts:
    """The decision event in the shape notices need (v1 records may still be retained)."""
    subject = payload.subject
    if isinstance(payload, DecisionRecordedV1):
        return DecisionFacts(
            decision_id=str(payload.decision_id), case_id=str(payload.case_id),
            subject_id=subject.id, subject_url=subject.url, owner_id=subject.owner_id,
            decided_at=payload.decided_at, actions=(payload.action,),
            restricts=payload.restricts, territorial_scope=tuple(payload.territorial_scope),
            category=payload.dsa_category, ground_reference=payload.policy_cited,
            facts=payload.rationale,
            reverses_decision_id=str(payload.reverses_decision_id)
            if payload.reverses_decision_id else None,
            report_ids=tuple(str(r) for r in payload.report_ids))
    restricting = [a for a in payload.actions if a.restricts]
    ends = [a.ends_at for a in restricting]
    policy, sor = payload.policy, payload.statement_of_reasons
    return DecisionFacts(
        decision_id=str(payload.decision_id), case_id=str(payload.case_id),
        subject_id=subject.id, subject_url=subject.url, owner_id=subject.owner_id,
        decided_at=payload.final_at,
        actions=tuple(a.code for a in payload.actions if a.kind != "none"),
        restricts=payload.restricts,
        territorial_scope=tuple(sorted({c for a in restricting for c in a.territorial_scope})),
        end_date=max(ends).date().isoformat() if ends and all(ends) else None,
        ground=policy.ground, ground_reference=policy.legal_basis or policy.clause,
        facts=payload.facts, automated_detection=payload.automated_detection,
        automated_decision=payload.automated_decision, category=payload.dsa_category,
        reverses_decision_id=str(payload.reverses) if payload.reverses else None,
        appeal_id=str(payload.appeal_id) if payload.appeal_id else None,
        appeal_outcome=payload.appeal_outcome,
        referrals=tuple(REFERRAL_AUDIENCES[a.code] for a in payload.actions
                        if a.code in REFERRAL_AUDIENCES),
        statement=sor.document if sor else None, puid=sor.puid if sor else None,
        appeal_until=payload.appeal.deadline if payload.appeal else None,
        report_ids=tuple(str(r) for r in payload.report_ids))


@dataclass
class NotifyService:
    templates: TemplateCatalogue

    # --- events ----------------------------------------------------------------------

    async def on_report(self, session: AsyncSession, event: CloudEvent,
                        report: ReportNormalizedV1) -> int:
        stored = await persistence.remember_report(session, _report_values(event, report))
        row = report_facts(stored)
        notices = [n for n in (reporter_receipt(row, subject_url=report.subject.url),
                               authority_receipt(row)) if n]
        created = await self.queue(session, event, notices, subject_id=report.subject.id)
        # Decisions that came before the report: its reporter is told of them now.
        for decision_event in await persistence.take_awaited(session, report.report_id):
            created += await self._decision_notices(session, decision_event,
                                                    decision_event.payload(), [stored])
        return created

    async def on_case_routed(self, session: AsyncSession, event: CloudEvent,
                             case: CaseRoutedV1) -> int:
        notices = []
        for report_id in case.report_ids:
            row = await persistence.remember_routing(session, report_id, case_id=case.case_id,
                                                     routed_at=case.routed_at, queue=case.queue)
            notice = authority_receipt(report_facts(row))
            if notice:
                notices.append(notice)
        return await self.queue(session, event, notices, subject_id=case.subject.id,
                                case_id=case.case_id)

    async def on_decision(self, session: AsyncSession, event: CloudEvent, payload: Any) -> int:
        decision = decision_facts(payload)
        rows = await persistence.known_reports(session, [uuid.UUID(r)
                                                         for r in decision.report_ids])
        # A report known only from cases.routed has no reporter side yet.
        known = [r for r in rows if r.normalized_event_id is not None]
        missing = sorted(set(decision.report_ids) - {str(r.report_id) for r in known})
        if missing:
            # The reports and decisions consumers run apart: after a restart or a broker
            # loss the decision can come first. Its reporters are told when the report does.
            log.info("decision_awaits_reports", decision_id=decision.decision_id,
                     reports=len(missing))
            await persistence.await_reports(session, [uuid.UUID(r) for r in missing], event)
        return await self._decision_notices(session, event, payload, known)

    async def _decision_notices(self, session: AsyncSession, event: CloudEvent, payload: Any,
                                rows: list) -> int:
        """Everyone a decision must tell, with these reports' reporters (the dedupe key of
        each notice makes a second pass, for a report that came late, add only what is new)."""
        decision = decision_facts(payload)
        notices = decision_notices(decision, [report_facts(r) for r in rows])
        return await self.queue(session, event, notices, subject_id=decision.subject_id,
                                case_id=uuid.UUID(decision.case_id),
                                decision_id=uuid.UUID(decision.decision_id))

    # --- queueing --------------------------------------------------------------------

    async def queue(self, session: AsyncSession, event: CloudEvent, notices: list[Notice], *,
                    subject_id: str, case_id: uuid.UUID | None = None,
                    decision_id: uuid.UUID | None = None) -> int:
        created = 0
        for notice in notices:
            targets = self._targets(notice, await persistence.audience_endpoints(
                session, notice.audience))
            if not targets:
                log.info("notice_without_endpoint", notice=notice.kind.value,
                         audience=notice.audience.value)
            refs = References(subject_id=subject_id, case_id=case_id, decision_id=decision_id,
                              report_ids=[uuid.UUID(r) for r in notice.report_ids])
            for endpoint in targets:
                notification_id = uuid.uuid4()
                if await persistence.insert_notification(
                        session, notification_id=notification_id, endpoint=endpoint,
                        event=event, refs=refs, now=utcnow(), dedupe_key=notice.dedupe_key,
                        body=self._body(notification_id, notice, endpoint, event),
                        audience=notice.audience.value, notice=notice.kind.value,
                        recipient=notice.email if endpoint.kind == EndpointKind.EMAIL.value
                        else notice.recipient, locale=notice.locale,
                        priority=notice.priority, puid=notice.puid):
                    created += 1
        if created:
            await persistence.wake_delivery_workers(session)
        log.info("notices_queued", event_id=event.id, type=event.type, notices=len(notices),
                 created=created)
        return created

    @staticmethod
    def _targets(notice: Notice, endpoints: list[Endpoint]) -> list[Endpoint]:
        """An email address goes by email when an email endpoint takes the audience; anyone
        else through the webhook endpoints (the platform's messaging endpoint)."""
        if notice.audience is Audience.TRANSPARENCY_DB:
            return [e for e in endpoints if e.kind == EndpointKind.TRANSPARENCY_DB.value]
        email = [e for e in endpoints if e.kind == EndpointKind.EMAIL.value]
        if notice.email and email:
            return email
        return [e for e in endpoints if e.kind == EndpointKind.WEBHOOK.value]

    def _body(self, notification_id: uuid.UUID, notice: Notice, endpoint: Endpoint,
              event: CloudEvent) -> str:
        if endpoint.kind == EndpointKind.TRANSPARENCY_DB.value:
            return json.dumps(notice.document, ensure_ascii=False)
        rendered = self.render(notice)
        if endpoint.kind == EndpointKind.EMAIL.value:
            return email_body(notice, rendered)
        return notice_webhook_body(notification_id, notice, rendered, event)

    def render(self, notice: Notice) -> Rendered:
        return self.templates.render(notice.kind, notice.locale, notice.context)

    # --- preview ---------------------------------------------------------------------

    def preview(self, event: CloudEvent, payload: Any, *, locale: str | None,
                report: ReportFacts | None = None) -> list[dict[str, Any]]:
        """What the notices of an event would say, rendered, without queueing anything."""
        if isinstance(payload, ReportNormalizedV1):
            values = _report_values(event, payload)
            values["report_id"] = str(values["report_id"])
            values.pop("normalized_event_id")
            facts = ReportFacts(**values)
            notices = [n for n in (reporter_receipt(facts, subject_url=payload.subject.url),
                                   authority_receipt(ReportFacts(**{**facts.__dict__,
                                                                    "routed_at": utcnow()})))
                       if n]
        elif isinstance(payload, CaseRoutedV1):
            notices = []
        else:
            decision = decision_facts(payload)
            reports = [report] if report else [
                ReportFacts(report_id=r, channel="user", reporter_id="preview")
                for r in decision.report_ids]
            notices = decision_notices(decision, reports)
        out = []
        for notice in notices:
            if notice.kind is NoticeKind.TRANSPARENCY_STATEMENT:
                out.append({"notice": notice.kind.value, "audience": notice.audience.value,
                            "document": notice.document})
                continue
            rendered = self.templates.render(notice.kind, locale or notice.locale,
                                             notice.context)
            out.append({"notice": notice.kind.value, "audience": notice.audience.value,
                        **rendered.as_dict()})
        return out
