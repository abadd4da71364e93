"""Who must be told what, and when: pure rules from events to notices. No I/O here.

A *notice* is one message for one audience about one fact: the reporter's receipt, the
outcome told to the reporter, the statement of reasons told to the affected user, the
authority's receipt and outcome, the statement sent to the Transparency Database, a referral.
Each carries a ``dedupe_key`` built from business identifiers (report, decision), not from
event ids, so a replayed or duplicated event — even one re-published under a new event id —
sends nothing new.

Where a notice goes (which endpoints) is decided from its audience and its contact: an email
address goes to email endpoints, an account or authority without one to webhook endpoints
(the platform's messaging endpoint) subscribed to that audience.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from warden.shared.contracts.events import Channel


class Audience(StrEnum):
    REPORTER = "reporter"
    AFFECTED = "affected"
    AUTHORITY = "authority"
    TRANSPARENCY_DB = "transparency_db"
    LAW_ENFORCEMENT = "law_enforcement"
    CHILD_SAFETY_HOTLINE = "child_safety_hotline"
    SUBSCRIBER = "subscriber"  # raw events for downstream tools, by event type


PERSON_AUDIENCES = frozenset(Audience) - {Audience.SUBSCRIBER}


class NoticeKind(StrEnum):
    REPORTER_RECEIPT = "reporter_receipt"
    REPORTER_OUTCOME = "reporter_outcome"
    STATEMENT_OF_REASONS = "statement_of_reasons"
    APPEAL_OUTCOME = "appeal_outcome"
    RESTORATION = "restoration"
    AUTHORITY_RECEIPT = "authority_receipt"
    AUTHORITY_OUTCOME = "authority_outcome"
    REFERRAL = "referral"
    TRANSPARENCY_STATEMENT = "transparency_statement"  # JSON for the database, no template


# Authority notices carry a legal deadline: they are claimed before anything else.
PRIORITY = {Audience.AUTHORITY: 100, Audience.LAW_ENFORCEMENT: 90,
            Audience.CHILD_SAFETY_HOTLINE: 90}

LOCALES = ("en", "de", "fr", "es", "it", "pl", "nl")
DEFAULT_LOCALE = "en"
# The language an authority is written to in, from its country.
COUNTRY_LOCALES = {"DE": "de", "AT": "de", "LI": "de", "FR": "fr", "BE": "fr", "LU": "fr",
                   "ES": "es", "IT": "it", "MT": "en", "PL": "pl", "NL": "nl"}
# How long after a decision the affected user may appeal it (DSA Art. 20(1): six months).
APPEAL_WINDOW = timedelta(days=182)
# Channels whose reporters are written to by email, at the contact their notice carried.
EMAIL_CHANNELS = frozenset({Channel.TRUSTED_FLAGGER, Channel.RIGHTS_HOLDER, Channel.ADVERTISER})
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def locale_for(tag: str | None) -> str:
    """The supported locale of a BCP 47 tag (``de-AT`` -> ``de``); English otherwise."""
    match = _LANGUAGE.match(tag or "")
    language = match.group(1).lower() if match else ""
    return language if language in LOCALES else DEFAULT_LOCALE


def locale_for_country(country: str | None) -> str:
    return COUNTRY_LOCALES.get((country or "").upper(), DEFAULT_LOCALE)


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    audience: Audience
    dedupe_key: str
    locale: str
    context: dict[str, Any]
    recipient: str | None = None  # an account id, an authority's name
    email: str | None = None      # when set, email endpoints carry it
    report_ids: tuple[str, ...] = ()
    puid: str | None = None
    document: dict[str, Any] | None = None  # sent as is (the Transparency Database statement)

    @property
    def priority(self) -> int:
        return PRIORITY.get(self.audience, 0)


@dataclass(frozen=True)
class ReportFacts:
    """What notify keeps of a report (``known_reports``)."""

    report_id: str
    channel: str | None
    reporter_id: str | None = None
    contact_email: str | None = None
    locale: str | None = None
    authority: str | None = None
    authority_country: str | None = None
    order_reference: str | None = None
    order_type: str | None = None
    deadline: datetime | None = None
    subject_id: str | None = None
    received_at: datetime | None = None
    case_id: str | None = None
    routed_at: datetime | None = None
    queue: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- receipts ----------------------------------------------------------------------------

def reporter_receipt(report: ReportFacts, *, subject_url: str | None) -> Notice | None:
    """DSA Art. 16(4): a receipt for every notice from a reporter who can be reached.

    Authorities get their own receipt once the order is routed; detectors get none.
    """
    channel = report.channel
    if channel in (Channel.REGULATOR, Channel.AUTOMATED, None):
        return None
    email = report.contact_email if channel in EMAIL_CHANNELS else None
    if not email and not report.reporter_id:
        return None
    return Notice(
        kind=NoticeKind.REPORTER_RECEIPT, audience=Audience.REPORTER,
        dedupe_key=f"reporter_receipt:{report.report_id}", locale=locale_for(report.locale),
        recipient=report.reporter_id, email=email, report_ids=(report.report_id,),
        context={"report_reference": report.report_id, "received_at": _iso(report.received_at),
                 "subject_id": report.subject_id, "subject_url": subject_url})


def may_owe_an_authority_receipt(case: Any) -> bool:
    """Whether routing this case (a ``CaseRoutedV1``) can owe anyone a receipt: only a case
    holding an order can, or an older event that does not list its channels. Notify keeps a
    report's routing for the authority's receipt alone."""
    return not case.channels or Channel.REGULATOR in case.channels


def authority_receipt(report: ReportFacts) -> Notice | None:
    """An order's receipt, once the report is both known and routed (either may come first)."""
    if report.channel != Channel.REGULATOR or report.routed_at is None:
        return None
    return Notice(
        kind=NoticeKind.AUTHORITY_RECEIPT, audience=Audience.AUTHORITY,
        dedupe_key=f"authority_receipt:{report.report_id}",
        locale=locale_for_country(report.authority_country), recipient=report.authority,
        email=report.contact_email, report_ids=(report.report_id,),
        context={"report_reference": report.report_id, "authority": report.authority,
                 "order_reference": report.order_reference, "order_type": report.order_type,
                 "received_at": _iso(report.received_at), "routed_at": _iso(report.routed_at),
                 "deadline": _iso(report.deadline), "case_id": report.case_id,
                 "queue": report.queue})


# --- decisions ---------------------------------------------------------------------------

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


# --- a sample of every notice's context, to validate templates at start-up ----------------

def sample_contexts() -> dict[NoticeKind, dict[str, Any]]:
    """One context per templated notice with every key it can carry (values filled in)."""
    from datetime import UTC

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    report = ReportFacts(report_id="r-1", channel=Channel.REGULATOR, reporter_id="u-1",
                         contact_email="a@example.org", authority="Authority",
                         authority_country="DE", order_reference="ORD-1",
                         order_type=TERRORIST_CONTENT_ORDER, deadline=now + timedelta(hours=1),
                         subject_id="post-1", received_at=now, case_id="c-1", routed_at=now,
                         queue="terrorism")
    decision = DecisionFacts(decision_id="d-1", case_id="c-1", subject_id="post-1",
                             subject_url="https://example.org/p/1", owner_id="acct-1",
                             decided_at=now, actions=("remove",), restricts=True,
                             territorial_scope=("DE",), end_date="2026-02-01",
                             ground="illegal_content", ground_reference="§ 130 StGB",
                             facts="facts", automated_detection=True,
                             automated_decision="not_automated", category="cat",
                             reverses_decision_id="d-0", appeal_id="a-1",
                             appeal_outcome="reversed", puid="p-1")
    user_report = ReportFacts(**{**report.__dict__, "channel": Channel.USER})
    receipt = reporter_receipt(user_report, subject_url="https://example.org/p/1")
    authority = authority_receipt(report)
    assert receipt and authority
    outcome = _reporter_outcome(decision, user_report)
    assert outcome
    context = _decision_context(decision)
    return {
        NoticeKind.REPORTER_RECEIPT: receipt.context,
        NoticeKind.AUTHORITY_RECEIPT: authority.context,
        NoticeKind.REPORTER_OUTCOME: outcome.context,
        NoticeKind.AUTHORITY_OUTCOME: _authority_outcome(decision, report).context,
        NoticeKind.STATEMENT_OF_REASONS: context,
        NoticeKind.APPEAL_OUTCOME: context,
        NoticeKind.RESTORATION: context,
        NoticeKind.REFERRAL: context,
    }


TEMPLATED = tuple(k for k in NoticeKind if k is not NoticeKind.TRANSPARENCY_STATEMENT)
