"""What the law asks of a report.

* DSA Art. 16(2): a notice of illegal content must carry a substantiated explanation, the
  exact location (URL), the notifier's name and email — except for child sexual abuse
  offences — and a good-faith statement.
* Regulation (EU) 2021/784 Art. 3(3): a terrorist-content removal order must be acted on
  within one hour of receipt; an order stating its own deadline keeps it.
* An order's territorial scope names EU member states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from warden.intake.channels import (
    ChannelReport,
    OrderType,
    RegulatorOrder,
    RightsHolderNotice,
    TrustedFlaggerNotice,
    UserReport,
)
from warden.intake.domain.problems import Problem

TERRORIST_CONTENT_DEADLINE = timedelta(hours=1)
# Offences of Directive 2011/93/EU Arts. 3-7: the notifier may stay anonymous (Art. 16(2)(c)).
CHILD_SEXUAL_ABUSE_CATEGORIES = frozenset({"child_sexual_exploitation"})

EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
# The EU's own institutions write Greece as EL; the Transparency Database uses ISO's GR.
COUNTRY_ALIASES = {"EL": "GR"}


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
