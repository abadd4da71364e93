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

One module per concern: ``problems`` (what is wrong, by field), ``legal`` (what the law asks
of a notice or an order), ``canonical`` (each channel in canonical terms); the report as a
whole is assembled here.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum

from warden.intake.channels import ChannelReport, external_id
from warden.intake.domain.canonical import canonical as _canonical
from warden.intake.domain.legal import missing_notice_elements, notice_elements
from warden.intake.domain.problems import Problem, invalid, problems_of
from warden.shared.contracts.events import Channel, ReportNormalizedV1, Subject
from warden.shared.contracts.taxonomy import category as taxonomy_category

__all__ = ["Problem", "ReportStatus", "fingerprint", "invalid", "normalize", "problems_of",
           "report_status"]


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
