"""Versioned event payloads, one Pydantic model per CloudEvents ``type``.

Within a version only additive, optional fields may be added; anything else is a
new version (``...v2``) on the same topic. JSON Schemas generated from these
models are checked in under ``schemas/`` (``warden schemas write``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from warden.shared.contracts import topics
from warden.shared.errors import InvalidMessage


class Channel(StrEnum):
    USER = "user"
    TRUSTED_FLAGGER = "trusted_flagger"
    REGULATOR = "regulator"
    RIGHTS_HOLDER = "rights_holder"
    ADVERTISER = "advertiser"
    AUTOMATED = "automated"


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Subject(Payload):
    """What a report, case or decision is about: a piece of content, an account, an ad."""

    type: str = Field(description="content, account, ad, page, ...")
    id: str = Field(min_length=1)
    url: str | None = None
    owner_id: str | None = None
    content_type: str | None = None
    language: str | None = None


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


class CaseRoutedV1(Payload):
    case_id: UUID
    subject: Subject
    policy_area: str
    category: str
    queue: str
    priority: int
    due_at: datetime
    status: str = "open"
    reason: str = Field(description="opened, report_joined, transferred, reopened_for_appeal, ...")
    report_ids: list[UUID] = Field(default_factory=list)
    report_count: int = 1
    channels: list[Channel] = Field(default_factory=list)
    rule_id: str
    policy_version: str
    routed_at: datetime
    previous_case_id: UUID | None = None
    excluded_reviewer_id: str | None = None
    reason_detail: str | None = Field(
        default=None, description="what changed (e.g. 'priority 60 -> 75') and, for a "
                                  "transfer, the reviewer's stated reason")
    stage: str | None = Field(default=None, description="review (first instance) or appeal")
    appeal_id: UUID | None = None
    legal_deadline: datetime | None = Field(
        default=None, description="the earliest legal deadline carried by the case's reports")


class CaseSlaV1(Payload):
    case_id: UUID
    queue: str
    due_at: datetime
    state: Literal["at_risk", "overdue"]
    observed_at: datetime
    subject: Subject | None = None
    policy_area: str | None = None
    priority: int | None = None


class DecisionRecordedV1(Payload):
    decision_id: UUID
    case_id: UUID
    subject: Subject
    action: str
    policy_area: str
    category: str
    dsa_category: str
    policy_cited: str
    rationale: str
    reviewer_id: str
    decided_at: datetime
    report_ids: list[UUID] = Field(default_factory=list)
    restricts: bool = False
    territorial_scope: list[str] = Field(default_factory=list)
    reverses_decision_id: UUID | None = None


class AppealFiledV1(Payload):
    appeal_id: UUID
    decision_id: UUID
    case_id: UUID
    subject: Subject
    appellant_id: str
    reason: str
    filed_at: datetime
    original_reviewer_id: str


class NotificationDeliveredV1(Payload):
    notification_id: UUID
    source_event_id: str
    source_event_type: str
    recipient: str
    endpoint_url: str
    status: Literal["delivered", "dead"]
    attempts: int
    finished_at: datetime
    case_id: UUID | None = None
    decision_id: UUID | None = None
    report_ids: list[UUID] = Field(default_factory=list)
    audience: str | None = Field(
        None, description="who was told: reporter, affected, authority, transparency_db, "
                          "law_enforcement, child_safety_hotline, or subscriber (raw events)")
    notice: str | None = Field(None, description="which notice, e.g. reporter_outcome")
    channel: str | None = Field(None, description="webhook, email or transparency_db")


class NotificationDeadV1(Payload):
    """A notification that exhausted its retries (or was refused for good); an operator may
    redeliver it with ``POST /v1/notifications/{id}/redeliver``."""

    notification_id: UUID
    source_event_id: str
    source_event_type: str
    audience: str
    notice: str | None = None
    channel: str
    endpoint_name: str
    attempts: int
    reason: str
    died_at: datetime
    case_id: UUID | None = None
    decision_id: UUID | None = None
    report_ids: list[UUID] = Field(default_factory=list)


REPORT_NORMALIZED_V1 = "warden.report.normalized.v1"
CASE_ROUTED_V1 = "warden.case.routed.v1"
CASE_SLA_V1 = "warden.case.sla.v1"
DECISION_RECORDED_V1 = "warden.decision.recorded.v1"
APPEAL_FILED_V1 = "warden.appeal.filed.v1"
NOTIFICATION_DELIVERED_V1 = "warden.notification.delivered.v1"
NOTIFICATION_DEAD_V1 = "warden.notification.dead.v1"

# type -> (topic, payload model)
EVENT_MODELS: dict[str, tuple[str, type[Payload]]] = {
    REPORT_NORMALIZED_V1: (topics.REPORTS_NORMALIZED, ReportNormalizedV1),
    CASE_ROUTED_V1: (topics.CASES_ROUTED, CaseRoutedV1),
    CASE_SLA_V1: (topics.CASES_SLA, CaseSlaV1),
    DECISION_RECORDED_V1: (topics.DECISIONS_RECORDED, DecisionRecordedV1),
    APPEAL_FILED_V1: (topics.APPEALS_FILED, AppealFiledV1),
    NOTIFICATION_DELIVERED_V1: (topics.NOTIFICATIONS_DELIVERED, NotificationDeliveredV1),
    NOTIFICATION_DEAD_V1: (topics.NOTIFICATIONS_DLQ, NotificationDeadV1),
}


def payload_model_for(event_type: str) -> type[Payload]:
    try:
        return EVENT_MODELS[event_type][1]
    except KeyError:
        raise InvalidMessage(f"unknown event type {event_type!r}") from None


def topic_for(event_type: str) -> str:
    return EVENT_MODELS[event_type][0]
