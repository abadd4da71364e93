"""Intake rules: from a channel's request to the one canonical report. No I/O here.

* ``normalize`` turns any channel's request into a ``ReportNormalizedV1`` or raises
  ``InvalidInput`` naming every field at fault (paths relative to the report, prefixed
  with ``location`` — ``body`` for HTTP).
* DSA Art. 16(2): a notice of illegal content must carry a substantiated explanation, the
  exact location (URL), the notifier's name and email — except for child sexual abuse
  offences — and a good-faith statement.
* Regulation (EU) 2021/784 Art. 3(3): a terrorist-content removal order must be acted on
  within one hour of receipt; an order stating its own deadline keeps it.
* A report's status follows the downstream events: received → routed → decided → notified.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from warden.intake.channels import (
    AdvertiserEscalation,
    AutomatedSignal,
    ChannelReport,
    Concern,
    OrderType,
    RegulatorOrder,
    RightsHolderNotice,
    TrustedFlaggerNotice,
    UserReport,
    external_id,
)
from warden.shared.contracts.events import (
    Channel,
    LegalReference,
    ReportNormalizedV1,
    Reporter,
    Subject,
)
from warden.shared.contracts.taxonomy import category as taxonomy_category
from warden.shared.errors import InvalidInput

TERRORIST_CONTENT_DEADLINE = timedelta(hours=1)
# Offences of Directive 2011/93/EU Arts. 3-7: the notifier may stay anonymous (Art. 16(2)(c)).
CHILD_SEXUAL_ABUSE_CATEGORIES = frozenset({"child_sexual_exploitation"})

EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
# The EU's own institutions write Greece as EL; the Transparency Database uses ISO's GR.
COUNTRY_ALIASES = {"EL": "GR"}

ORDER_CATEGORIES = {
    OrderType.TERRORIST_CONTENT_REMOVAL_ORDER: "terrorist_content_order",
    OrderType.REMOVAL_ORDER: "illegal_content_order",
    OrderType.COURT_ORDER: "illegal_content_order",
}
CHANNEL_TAGS = frozenset(c.value for c in Channel)
RIGHT_CATEGORIES = {"copyright": "copyright", "trademark": "trademark",
                    "counterfeit": "counterfeit"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a report: the dotted path of the field, and what is wrong."""

    field: str
    message: str
    type: str = "value_error"


def invalid(problems: list[Problem], *, location: str = "body") -> InvalidInput:
    prefix = f"{location}." if location else ""
    errors = [{"field": f"{prefix}{p.field}", "message": p.message, "type": p.type}
              for p in problems]
    summary = "the report is invalid: " + "; ".join(
        f"{e['field']}: {e['message']}" for e in errors)
    return InvalidInput(summary, errors=errors)


def problems_of(errors: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """Pydantic's ``exc.errors()`` as problems, without the channel tag pydantic puts in
    the path (``body.user.reporter`` -> ``body.reporter``); messages never quote the input."""
    found = []
    for err in errors:
        loc = list(err.get("loc", ()))
        tag = 1 if loc[:1] == ["body"] else 0
        if len(loc) > tag and loc[tag] in CHANNEL_TAGS:
            del loc[tag]
        if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("channel")
        found.append(Problem(".".join(str(p) for p in loc) or "<root>", err.get("msg", ""),
                             err.get("type", "")))
    return found


# --- DSA Art. 16 --------------------------------------------------------------------------

@dataclass(frozen=True)
class NoticeElement:
    field: str
    present: bool
    requirement: str


def missing_notice_elements(elements: list[NoticeElement]) -> list[Problem]:
    return [Problem(e.field, f"DSA Art. 16 notice lacks {e.requirement}", "missing_notice_element")
            for e in elements if not e.present]


def notice_elements(report: ChannelReport, category: str) -> list[NoticeElement]:
    """The Art. 16 elements of a report that is a notice of illegal content ([] otherwise)."""
    identity_optional = category in CHILD_SEXUAL_ABUSE_CATEGORIES
    match report:
        case UserReport(illegal_content=True):
            explanation, explanation_field = report.text, "text"
            name, name_field = report.reporter.name, "reporter.name"
            email, email_field = report.reporter.email, "reporter.email"
            good_faith, good_faith_field = report.good_faith_statement, "good_faith_statement"
        case TrustedFlaggerNotice():
            explanation, explanation_field = report.explanation, "explanation"
            name, name_field = report.flagger.organisation, "flagger.organisation"
            email, email_field = report.flagger.contact_email, "flagger.contact_email"
            good_faith, good_faith_field = report.good_faith_statement, "good_faith_statement"
        case RightsHolderNotice():
            explanation, explanation_field = report.explanation, "explanation"
            name, name_field = report.rights_holder.name, "rights_holder.name"
            email, email_field = report.rights_holder.email, "rights_holder.email"
            good_faith, good_faith_field = report.sworn_statement, "sworn_statement"
        case _:
            return []
    elements = [
        NoticeElement(explanation_field, bool(explanation),
                      "a substantiated explanation of why the content is illegal"),
        NoticeElement("content.url", bool(report.content.url),
                      "the exact electronic location (URL) of the content"),
        NoticeElement(good_faith_field, good_faith is True,
                      "a statement that it is made in good faith and accurate (must be true)"),
    ]
    if not identity_optional:
        elements += [
            NoticeElement(name_field, bool(name), "the notifier's name"),
            NoticeElement(email_field, bool(email), "the notifier's email address"),
        ]
    return elements


# --- regulator orders ---------------------------------------------------------------------

def order_deadline(order: RegulatorOrder, received_at: datetime) -> datetime | None:
    if order.deadline is not None:
        return order.deadline
    if order.order_type is OrderType.TERRORIST_CONTENT_REMOVAL_ORDER:
        return received_at + TERRORIST_CONTENT_DEADLINE
    return None


def eu_territorial_scope(codes: list[str], field: str) -> tuple[list[str], list[Problem]]:
    scope: list[str] = []
    problems = []
    for index, code in enumerate(codes):
        normal = COUNTRY_ALIASES.get(code, code)
        if normal not in EU_MEMBER_STATES:
            problems.append(Problem(f"{field}.{index}", f"{code!r} is not an EU member state",
                                    "not_eu_member_state"))
        elif normal not in scope:
            scope.append(normal)
    return scope, problems


# --- normalisation ------------------------------------------------------------------------

@dataclass(frozen=True)
class Canonical:
    """The channel-specific parts of the canonical report."""

    category: str | None
    category_field: str
    reporter: Reporter
    text: str | None = None
    jurisdictions: tuple[str, ...] = ()
    legal: LegalReference | None = None
    evidence: tuple[str, ...] = ()
    signals: tuple[tuple[str, float | str], ...] = ()
    priority_handling: bool = False
    locale: str | None = None
    problems: tuple[Problem, ...] = ()


def normalize(report: ChannelReport, *, report_id: uuid.UUID, client_id: str,
              received_at: datetime, location: str = "body") -> ReportNormalizedV1:
    """The canonical report, or ``InvalidInput`` listing every problem found."""
    canonical = _canonical(report, received_at)
    problems = list(canonical.problems)
    if canonical.category is None:
        problems.append(Problem(canonical.category_field, "a category is required here",
                                "missing"))
        raise invalid(problems, location=location)
    problems += missing_notice_elements(notice_elements(report, canonical.category))
    if problems:
        raise invalid(problems, location=location)
    taxonomy = taxonomy_category(canonical.category)
    item = report.content
    return ReportNormalizedV1(
        report_id=report_id,
        client_id=client_id,
        channel=Channel(report.channel),
        received_at=received_at,
        reporter=canonical.reporter,
        subject=Subject(type=item.type.value, id=item.id, url=item.url, owner_id=item.owner_id,
                        content_type=item.content_type, language=item.language),
        policy_area=taxonomy.area.value,
        category=taxonomy.code,
        dsa_category=taxonomy.dsa.value,
        jurisdictions=list(canonical.jurisdictions),
        legal=canonical.legal,
        text=canonical.text,
        evidence=list(canonical.evidence),
        signals=dict(canonical.signals),
        priority_handling=canonical.priority_handling,
        external_id=external_id(report),
        locale=canonical.locale,
        illegal_content_notice=bool(notice_elements(report, canonical.category)),
    )


def _canonical(report: ChannelReport, received_at: datetime) -> Canonical:
    match report:
        case UserReport():
            return _user(report)
        case TrustedFlaggerNotice():
            return _trusted_flagger(report)
        case RegulatorOrder():
            return _regulator(report, received_at)
        case RightsHolderNotice():
            return _rights_holder(report)
        case AdvertiserEscalation():
            return _advertiser(report)
        case AutomatedSignal():
            return _automated(report)
    raise TypeError(f"not a channel report: {type(report).__name__}")


def _user(report: UserReport) -> Canonical:
    # A user's name and email are kept only when the law needs them (an Art. 16 notice).
    identify = report.illegal_content
    return Canonical(
        category=report.reason.value, category_field="reason",
        reporter=Reporter(kind=Channel.USER, id=report.reporter.account_id,
                          name=report.reporter.name if identify else None,
                          email=report.reporter.email if identify else None),
        text=report.text, jurisdictions=tuple(report.jurisdictions),
        legal=LegalReference(legal_basis=report.legal_basis) if report.legal_basis else None,
        evidence=tuple(report.evidence), locale=report.locale,
    )


def _trusted_flagger(report: TrustedFlaggerNotice) -> Canonical:
    flagger = report.flagger
    return Canonical(
        category=report.category.value, category_field="category",
        reporter=Reporter(kind=Channel.TRUSTED_FLAGGER,
                          id=flagger.designation or flagger.organisation,
                          name=flagger.contact_name, organisation=flagger.organisation,
                          email=flagger.contact_email),
        text=report.explanation, jurisdictions=tuple(report.jurisdictions),
        legal=LegalReference(legal_basis=report.legal_basis) if report.legal_basis else None,
        evidence=tuple(report.evidence), priority_handling=True,
    )


def _regulator(order: RegulatorOrder, received_at: datetime) -> Canonical:
    scope, problems = eu_territorial_scope(order.territorial_scope, "territorial_scope")
    if order.deadline and order.issued_at and order.deadline < order.issued_at:
        problems.append(Problem("deadline", "the deadline is before the order was issued"))
    category = order.category.value if order.category else ORDER_CATEGORIES[order.order_type]
    legal = LegalReference(issuing_authority=order.authority.name, legal_basis=order.legal_basis,
                           order_reference=order.order_reference,
                           deadline=order_deadline(order, received_at),
                           order_type=order.order_type.value,
                           authority_country=order.authority.country)
    return Canonical(
        category=category, category_field="category",
        reporter=Reporter(kind=Channel.REGULATOR, id=order.authority.name,
                          name=order.authority.name, organisation=order.authority.name,
                          email=order.authority.contact_email),
        text=order.explanation, jurisdictions=tuple(scope), legal=legal,
        evidence=tuple(order.evidence),
        signals=(("authority_country", order.authority.country),),
        problems=tuple(problems),
    )


def _rights_holder(notice: RightsHolderNotice) -> Canonical:
    holder, right = notice.rights_holder, notice.right
    signals: list[tuple[str, float | str]] = [("right_type", right.type.value),
                                              ("protected_work", right.work)]
    if right.registration_number:
        signals.append(("registration_number", right.registration_number))
    if holder.representative:
        signals.append(("representative", holder.representative))
    evidence = [*notice.evidence, *([right.original_url] if right.original_url else [])]
    return Canonical(
        category=RIGHT_CATEGORIES[right.type.value], category_field="right.type",
        reporter=Reporter(kind=Channel.RIGHTS_HOLDER, id=holder.name, name=holder.name,
                          organisation=holder.name, email=holder.email),
        text=notice.explanation, jurisdictions=tuple(notice.jurisdictions),
        evidence=tuple(evidence), signals=tuple(signals),
    )


def _advertiser(escalation: AdvertiserEscalation) -> Canonical:
    if escalation.category is not None:
        category: str | None = escalation.category.value
    elif escalation.concern is Concern.MISAPPLIED:
        category = "ad_policy_misapplied"
    else:
        category = None
    impact = escalation.business_impact
    signals: list[tuple[str, float | str]] = [("policy", escalation.policy),
                                              ("concern", escalation.concern.value),
                                              ("business_impact", impact.level.value)]
    if impact.daily_spend_at_risk is not None:
        signals.append(("daily_spend_at_risk", impact.daily_spend_at_risk))
    if impact.currency:
        signals.append(("currency", impact.currency))
    if impact.description:
        signals.append(("business_impact_description", impact.description))
    advertiser = escalation.advertiser
    return Canonical(
        category=category, category_field="category",
        reporter=Reporter(kind=Channel.ADVERTISER, id=advertiser.account_id,
                          name=advertiser.name, email=advertiser.contact_email),
        text=escalation.text, signals=tuple(signals),
    )


def _automated(signal: AutomatedSignal) -> Canonical:
    problems = []
    if signal.score is None and signal.match is None:
        problems.append(Problem("score", "an automated signal needs a score or a hash match",
                                "missing"))
    signals: list[tuple[str, float | str]] = [("detector", signal.detector.name),
                                              ("detector_version", signal.detector.version)]
    if signal.score is not None:
        signals.append(("score", signal.score))
    if signal.threshold is not None:
        signals.append(("threshold", signal.threshold))
    if signal.match is not None:
        signals += [("hash_list", signal.match.hash_list),
                    ("hash_algorithm", signal.match.algorithm),
                    ("match_reference", signal.match.reference)]
    return Canonical(
        category=signal.category.value, category_field="category",
        reporter=Reporter(kind=Channel.AUTOMATED,
                          id=f"{signal.detector.name}@{signal.detector.version}",
                          name=signal.detector.name),
        signals=tuple(signals), problems=tuple(problems),
    )


# --- deduplication ------------------------------------------------------------------------

def fingerprint(report: ChannelReport) -> str:
    """Identifies a request's content independent of key order and whitespace."""
    return hashlib.sha256(report.model_dump_json().encode()).hexdigest()


# --- status -------------------------------------------------------------------------------

class ReportStatus(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    DECIDED = "decided"
    NOTIFIED = "notified"


def report_status(*, routed_at: datetime | None, decided_at: datetime | None,
                  notified_at: datetime | None) -> ReportStatus:
    """The furthest stage reached (events from different topics may arrive in any order)."""
    if notified_at is not None:
        return ReportStatus.NOTIFIED
    if decided_at is not None:
        return ReportStatus.DECIDED
    if routed_at is not None:
        return ReportStatus.ROUTED
    return ReportStatus.RECEIVED
