"""Each channel's request in canonical terms: its category, reporter, text, legal
references and signals (the parts of ``ReportNormalizedV1`` that differ by channel)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
)
from warden.intake.domain.legal import eu_territorial_scope, order_deadline
from warden.intake.domain.problems import Problem
from warden.shared.contracts.events import Channel, LegalReference, Reporter

ORDER_CATEGORIES = {
    OrderType.TERRORIST_CONTENT_REMOVAL_ORDER: "terrorist_content_order",
    OrderType.REMOVAL_ORDER: "illegal_content_order",
    OrderType.COURT_ORDER: "illegal_content_order",
}
RIGHT_CATEGORIES = {"copyright": "copyright", "trademark": "trademark",
                    "counterfeit": "counterfeit"}


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


def canonical(report: ChannelReport, received_at: datetime) -> Canonical:
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
