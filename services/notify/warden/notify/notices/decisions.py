"""What a final decision tells whom: reporters, authorities, the affected user, the
Transparency Database and referral bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warden.notify.notices.common import (
    DEFAULT_LOCALE,
    EMAIL_CHANNELS,
    Audience,
    Notice,
    NoticeKind,
    ReportFacts,
    _iso,
    locale_for,
    locale_for_country,
)
from warden.shared.contracts.events import Channel

# How long after a decision the affected user may appeal it (DSA Art. 20(1): six months).
APPEAL_WINDOW = timedelta(days=182)


@dataclass(frozen=True)
class DecisionFacts:
    """What a decision event says, in the shape the notices need (built from the contract)."""

    decision_id: str
    case_id: str
    subject_id: str
    subject_url: str | None
    owner_id: str | None
    decided_at: datetime
    actions: tuple[str, ...]
    restricts: bool
    territorial_scope: tuple[str, ...] = ()
    end_date: str | None = None
    ground: str | None = None              # illegal_content / incompatible_content
    ground_reference: str | None = None    # the legal basis or the terms clause
    facts: str | None = None
    automated_detection: bool = False
    automated_decision: str | None = None
    category: str | None = None
    reverses_decision_id: str | None = None
    appeal_id: str | None = None
    appeal_outcome: str | None = None      # upheld / reversed / modified
    final: bool = True                     # four-eyes: only a final decision is told
    referrals: tuple[str, ...] = ()        # law_enforcement, child_safety_hotline
    statement: dict[str, Any] | None = None  # the Transparency Database JSON
    puid: str | None = None
    appeal_until: datetime | None = None   # from the decision; else six months on
    report_ids: tuple[str, ...] = field(default_factory=tuple)


TERRORIST_CONTENT_ORDER = "terrorist_content_removal_order"
REMOVING_ACTIONS = frozenset({"remove", "content_remove", "disable", "disable_access"})


def _appeal_until(decision: DecisionFacts) -> str:
    return _iso(decision.appeal_until or decision.decided_at + APPEAL_WINDOW)  # type: ignore


def decision_notices(decision: DecisionFacts, reports: list[ReportFacts]) -> list[Notice]:
    """Everyone a final decision concerns: reporters, authorities, the affected user, the
    Transparency Database, referral bodies. Pending (four-eyes) decisions tell no one."""
    if not decision.final:
        return []
    notices: list[Notice] = []
    for report in reports:
        if report.channel == Channel.REGULATOR:
            notices.append(_authority_outcome(decision, report))
        elif decision.appeal_id is None:
            notice = _reporter_outcome(decision, report)
            if notice:
                notices.append(notice)
    affected = _affected_notice(decision)
    if affected:
        notices.append(affected)
    if decision.statement is not None and decision.puid:
        notices.append(Notice(
            kind=NoticeKind.TRANSPARENCY_STATEMENT, audience=Audience.TRANSPARENCY_DB,
            dedupe_key=f"transparency_statement:{decision.puid}", locale=DEFAULT_LOCALE,
            context={}, puid=decision.puid, document=decision.statement))
    for referral in decision.referrals:
        notices.append(Notice(
            kind=NoticeKind.REFERRAL, audience=Audience(referral),
            dedupe_key=f"referral:{referral}:{decision.decision_id}", locale=DEFAULT_LOCALE,
            recipient=referral, context=_decision_context(decision)))
    return notices


def _decision_context(decision: DecisionFacts) -> dict[str, Any]:
    return {"decision_id": decision.decision_id, "case_id": decision.case_id,
            "subject_id": decision.subject_id, "subject_url": decision.subject_url,
            "actions": list(decision.actions), "action_taken": decision.restricts,
            "decided_at": _iso(decision.decided_at),
            "territorial_scope": list(decision.territorial_scope),
            "end_date": decision.end_date, "ground": decision.ground,
            "ground_reference": decision.ground_reference, "facts": decision.facts,
            "automated_detection": decision.automated_detection,
            "automated_decision": decision.automated_decision, "category": decision.category,
            "puid": decision.puid, "appeal_until": _appeal_until(decision),
            "appeal_outcome": decision.appeal_outcome,
            "reverses_decision_id": decision.reverses_decision_id}


def _reporter_outcome(decision: DecisionFacts, report: ReportFacts) -> Notice | None:
    channel = report.channel
    if channel in (Channel.AUTOMATED, None):
        return None
    email = report.contact_email if channel in EMAIL_CHANNELS else None
    if not email and not report.reporter_id:
        return None
    context = {"report_reference": report.report_id, **_decision_context(decision)}
    # The reporter learns what was done, not the facts written for the affected user.
    context["facts"] = None
    return Notice(
        kind=NoticeKind.REPORTER_OUTCOME, audience=Audience.REPORTER,
        dedupe_key=f"reporter_outcome:{decision.decision_id}:{report.report_id}",
        locale=locale_for(report.locale), recipient=report.reporter_id, email=email,
        report_ids=(report.report_id,), context=context)


def _authority_outcome(decision: DecisionFacts, report: ReportFacts) -> Notice:
    """What was done and when; for a terrorist-content removal order the time of removal, which
    the one-hour deadline is measured to."""
    removed = decision.restricts and bool(REMOVING_ACTIONS & set(decision.actions))
    actioned_at = decision.decided_at
    context = {"report_reference": report.report_id, "authority": report.authority,
               "order_reference": report.order_reference, "order_type": report.order_type,
               "deadline": _iso(report.deadline), **_decision_context(decision),
               "actioned_at": _iso(actioned_at),
               "removed_at": _iso(actioned_at) if removed else None,
               "within_deadline": (actioned_at <= report.deadline) if report.deadline else None,
               "terrorist_content_order": report.order_type == TERRORIST_CONTENT_ORDER}
    return Notice(
        kind=NoticeKind.AUTHORITY_OUTCOME, audience=Audience.AUTHORITY,
        dedupe_key=f"authority_outcome:{decision.decision_id}:{report.report_id}",
        locale=locale_for_country(report.authority_country), recipient=report.authority,
        email=report.contact_email, report_ids=(report.report_id,), context=context)


def _affected_notice(decision: DecisionFacts) -> Notice | None:
    """The owner of the subject: a statement of reasons when something is restricted; after an
    appeal its outcome; after a reversal the restoration."""
    if not decision.owner_id:
        return None
    if decision.appeal_outcome == "reversed" or (decision.reverses_decision_id
                                                 and not decision.appeal_id):
        kind = NoticeKind.RESTORATION
    elif decision.appeal_id:
        kind = NoticeKind.APPEAL_OUTCOME
    elif decision.restricts:
        kind = NoticeKind.STATEMENT_OF_REASONS
    else:
        return None
    return Notice(kind=kind, audience=Audience.AFFECTED,
                  dedupe_key=f"{kind.value}:{decision.decision_id}", locale=DEFAULT_LOCALE,
                  recipient=decision.owner_id, context=_decision_context(decision),
                  puid=decision.puid)
