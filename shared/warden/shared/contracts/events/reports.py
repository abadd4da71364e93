"""Intake's event: a report in canonical form."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from warden.shared.contracts.events.common import Channel, Payload, Subject


class Reporter(Payload):
    kind: Channel
    id: str | None = None
    name: str | None = None
    organisation: str | None = None
    email: str | None = None


class LegalReference(Payload):
    issuing_authority: str | None = None
    legal_basis: str | None = None
    order_reference: str | None = None
    deadline: datetime | None = None
    order_type: str | None = Field(
        None, description="removal_order, terrorist_content_removal_order, court_order")
    authority_country: str | None = Field(
        None, description="ISO 3166-1 alpha-2 country of the issuing authority (its notices' "
                          "language follows it)")


class ReportNormalizedV1(Payload):
    report_id: UUID
    client_id: str
    channel: Channel
    received_at: datetime
    reporter: Reporter
    subject: Subject
    policy_area: str
    category: str
    dsa_category: str
    jurisdictions: list[str] = Field(default_factory=list)
    legal: LegalReference | None = None
    text: str | None = None
    evidence: list[str] = Field(default_factory=list)
    signals: dict[str, float | str] = Field(default_factory=dict)
    priority_handling: bool = False
    external_id: str | None = None
    locale: str | None = Field(None, description="the reporter's language (BCP 47), for replies")
    illegal_content_notice: bool = Field(
        False, description="a DSA Art. 16 notice: the notifier is told the decision (Art. 16(5))")
