"""What each kind of reporter sends: one request shape per channel, told apart by ``channel``.

The shapes validate types, lengths and formats only. Rules that span fields (the DSA
Art. 16 notice elements, EU territorial scope, "a score or a hash match") live in
``domain`` so that HTTP and ``reports.raw`` apply exactly the same ones.

Unknown fields are refused (a misspelt ``explanaton`` must not pass silently as a
notice without its explanation), and booleans and numbers are strict (``"yes"`` is not
a good-faith statement).

One module per kind of reporter (``notices``, ``orders``, ``advertisers``, ``automated``),
written in the vocabulary of ``fields``; the union of them all is here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from warden.intake.channels.advertisers import AdvertiserEscalation, Concern
from warden.intake.channels.automated import AutomatedSignal
from warden.intake.channels.notices import RightsHolderNotice, TrustedFlaggerNotice, UserReport
from warden.intake.channels.orders import OrderType, RegulatorOrder

__all__ = ["REPORT_ADAPTER", "AdvertiserEscalation", "AutomatedSignal", "ChannelReport",
           "Concern", "OrderType", "RegulatorOrder", "ReportRequest", "RightsHolderNotice",
           "TrustedFlaggerNotice", "UserReport", "external_id"]

ChannelReport = (UserReport | TrustedFlaggerNotice | RegulatorOrder | RightsHolderNotice
                 | AdvertiserEscalation | AutomatedSignal)
ReportRequest = Annotated[ChannelReport, Field(discriminator="channel")]

REPORT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ReportRequest)


def external_id(report: ChannelReport) -> str | None:
    """The channel's own identifier of the report: the same one twice is the same report."""
    match report:
        case UserReport():
            return report.client_report_id
        case TrustedFlaggerNotice() | RightsHolderNotice():
            return report.notice_id
        case RegulatorOrder():
            return report.order_reference
        case AdvertiserEscalation():
            return report.escalation_id
        case AutomatedSignal():
            return report.signal_id
    raise TypeError(f"not a channel report: {type(report).__name__}")
