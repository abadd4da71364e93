"""Receipts of a report: the reporter's (DSA Art. 16(4)) and an order's, to its authority."""

from __future__ import annotations

from typing import Any

from warden.notify.notices.common import (
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
