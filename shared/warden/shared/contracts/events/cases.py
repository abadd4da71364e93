"""Routing's events: a case routed to a queue (and to decision), its SLA announcements."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from warden.shared.contracts.events.common import Channel, Payload, Subject


class AutomatedDecisionOrder(Payload):
    """Set by a routing rule flagged for automated decisions (e.g. a hash match above a
    threshold): the decision service decides the case itself, fully automated."""

    rule_id: str = Field(description="the routing rule that matched (it holds the threshold)")
    policy_version: str
    policy_id: str = Field(description="decision policy catalogue id the decision cites")
    actions: list[str] = Field(min_length=1, description="action catalogue codes to apply")


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
    automated_decision: AutomatedDecisionOrder | None = Field(
        default=None, description="on an opened case whose rule decides automatically")


class CaseSlaV1(Payload):
    case_id: UUID
    queue: str
    due_at: datetime
    state: Literal["at_risk", "overdue"]
    observed_at: datetime
    subject: Subject | None = None
    policy_area: str | None = None
    priority: int | None = None
