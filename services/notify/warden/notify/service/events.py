"""The events notify acts on: reports (the reporter's and an authority's receipts), routed
cases (an authority's receipt once its order is routed) and decisions (everyone they tell).

Every handler runs inside the consumer's inbox transaction, so the notifications it queues
commit together with the record that the events were handled: an accepted event is never
lost, a redelivered one never queued twice (and the ``dedupe_key`` of each notice stops a
duplicate published under another event id). Reports and routed cases come in runs (one
upsert of the runs' reports, one insert of all their notifications); a run of one is the
one-by-one path; so do decisions.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify import persistence
from warden.notify.domain import references_of
from warden.notify.notices import authority_receipt, decision_notices, reporter_receipt
from warden.notify.service.facts import decision_facts, report_facts, report_values
from warden.notify.service.queueing import NoticeQueue
from warden.shared.bus.consumer import Delivery
from warden.shared.clock import utcnow
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.observability import get_logger

log = get_logger(__name__)


class NotifyService(NoticeQueue):

    async def on_reports(self, session: AsyncSession, deliveries: list[Delivery]) -> int:
        """A run of ``reports.normalized``: the receipts of each report, and what decisions
        that came before their reports owe these reporters."""
        values: dict[uuid.UUID, dict[str, Any]] = {}
        for delivery in deliveries:
            values[delivery.payload.report_id] = report_values(delivery.event, delivery.payload)
        stored = await persistence.remember_reports(session, list(values.values()))
        # Decisions that came before their reports: these reporters are told of them now.
        waiting: dict[uuid.UUID, list[CloudEvent]] = {}
        for report_id, decision_event in await persistence.take_awaited(session, list(values)):
            waiting.setdefault(report_id, []).append(decision_event)
        released = _reports_of_decisions(waiting)
        rows: list[dict[str, Any]] = []
        for delivery in deliveries:
            report = delivery.payload
            with delivery.scope():
                facts = report_facts(stored[report.report_id])
                notices = [n for n in (reporter_receipt(facts, subject_url=report.subject.url),
                                       authority_receipt(facts)) if n]
                rows += await self.rows(session, delivery.event, notices,
                                        subject_id=report.subject.id)
                for decision_event in waiting.pop(report.report_id, []):
                    report_ids = released.pop(decision_event.id, None)
                    if report_ids is not None:  # once per decision, with all its reports here
                        rows += await self._decision_rows(
                            session, decision_event, decision_event.payload(),
                            [stored[r] for r in report_ids])
        return await self.insert(session, rows, events=[d.event for d in deliveries])

    async def on_cases_routed(self, session: AsyncSession, deliveries: list[Delivery]) -> int:
        """A run of ``cases.routed``: an authority's receipt says where its order went."""
        routings: dict[uuid.UUID, dict[str, Any]] = {}
        for delivery in deliveries:
            case = delivery.payload
            for report_id in case.report_ids:
                # The first routing of a report counts, within the run as across runs.
                routings.setdefault(report_id, {
                    "report_id": report_id, "case_id": case.case_id,
                    "routed_at": case.routed_at, "queue": case.queue})
        stored = await persistence.remember_routings(session, list(routings.values()))
        rows: list[dict[str, Any]] = []
        for delivery in deliveries:
            case = delivery.payload
            with delivery.scope():
                notices = [n for n in (authority_receipt(report_facts(stored[r]))
                                       for r in case.report_ids) if n]
                rows += await self.rows(session, delivery.event, notices,
                                        subject_id=case.subject.id, case_id=case.case_id)
        return await self.insert(session, rows, events=[d.event for d in deliveries])

    async def on_decisions(self, session: AsyncSession, deliveries: list[Delivery]) -> int:
        """A run of decisions: the raw event for subscribed tools, and everyone each decision
        tells. Every report the run names is locked at once, in report order (one statement),
        so this run and the runs of reports and routed cases never wait for each other in a
        circle."""
        decisions = [decision_facts(d.payload) for d in deliveries]
        known = await persistence.known_reports(session, sorted(
            {uuid.UUID(r) for decision in decisions for r in decision.report_ids}))
        rows: list[dict[str, Any]] = []
        for delivery, decision in zip(deliveries, decisions):
            event = delivery.event
            with delivery.scope():
                rows += await self._subscriber_rows(session, event, delivery.payload)
                reports = [known[r] for r in dict.fromkeys(uuid.UUID(r)
                                                           for r in decision.report_ids)]
                # A report known only from cases.routed has no reporter side yet.
                seen = [r for r in reports if r.normalized_event_id is not None]
                missing = [r.report_id for r in reports if r.normalized_event_id is None]
                if missing:
                    # The reports and decisions consumers run apart: after a restart or a
                    # broker loss the decision can come first. Its reporters are told when
                    # the report does.
                    log.info("decision_awaits_reports", decision_id=decision.decision_id,
                             reports=len(missing))
                    await persistence.await_reports(session, missing, event)
                rows += await self._decision_rows(session, event, delivery.payload, seen)
        return await self.insert(session, rows, events=[d.event for d in deliveries])

    async def _subscriber_rows(self, session: AsyncSession, event: CloudEvent,
                               payload: Any) -> list[dict[str, Any]]:
        """The raw event for every endpoint subscribed to its type (downstream tools)."""
        endpoints = await persistence.subscribed_endpoints(session, event.type)
        log.info("notifications_queued", event_id=event.id, type=event.type,
                 endpoints=len(endpoints))
        return persistence.subscriber_rows(event, references_of(event, payload), endpoints,
                                           now=utcnow())

    async def _decision_rows(self, session: AsyncSession, event: CloudEvent, payload: Any,
                             reports: list) -> list[dict[str, Any]]:
        """Everyone a decision must tell, with these reports' reporters (the dedupe key of
        each notice makes a second pass, for a report that came late, add only what is new)."""
        decision = decision_facts(payload)
        notices = decision_notices(decision, [report_facts(r) for r in reports])
        return await self.rows(session, event, notices, subject_id=decision.subject_id,
                               case_id=uuid.UUID(decision.case_id),
                               decision_id=uuid.UUID(decision.decision_id))


def _reports_of_decisions(waiting: dict[uuid.UUID, list[CloudEvent]]
                          ) -> dict[str, list[uuid.UUID]]:
    """Decision event id -> the reports of this run it waited for."""
    reports: dict[str, list[uuid.UUID]] = {}
    for report_id, decision_events in waiting.items():
        for decision_event in decision_events:
            reports.setdefault(decision_event.id, []).append(report_id)
    return reports
