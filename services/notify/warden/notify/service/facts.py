"""Events in the shapes notices need: what notify keeps of a report, and a decision's facts."""

from __future__ import annotations

from typing import Any

from warden.notify.models import KnownReport
from warden.notify.notices import Audience, DecisionFacts, ReportFacts
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    DecisionRecordedV1,
    DecisionRecordedV2,
    ReportNormalizedV1,
)


def report_facts(row: KnownReport | Any) -> ReportFacts:
    return ReportFacts(
        report_id=str(row.report_id), channel=row.channel, reporter_id=row.reporter_id,
        contact_email=row.contact_email, locale=row.locale, authority=row.authority,
        authority_country=row.authority_country, order_reference=row.order_reference,
        order_type=row.order_type, deadline=row.deadline, subject_id=row.subject_id,
        received_at=row.received_at, case_id=str(row.case_id) if row.case_id else None,
        routed_at=row.routed_at, queue=row.queue)


def report_values(event: CloudEvent, report: ReportNormalizedV1) -> dict[str, Any]:
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
