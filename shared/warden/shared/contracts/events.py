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


class DecisionRecordedV1(Payload):
    """Superseded by ``DecisionRecordedV2`` (no longer emitted; consumers still read records
    of it retained on the topic)."""

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


class ActionTaken(Payload):
    """One enforcement measure of a decision, as a downstream tool must apply (or undo) it."""

    code: str = Field(description="action code from the decision service's action catalogue, "
                                  "e.g. remove, geo_restrict, account_suspend, restore_content")
    kind: Literal["content", "monetary", "service", "account", "advertising", "strike",
                  "referral", "none", "restoration"]
    restricts: bool = Field(description="the measure restricts the subject or its owner")
    target: Literal["subject", "owner"] = Field(
        description="what it applies to: the subject itself, or the subject's owner account")
    target_id: str | None = Field(None, description="the subject id or the owner account id")
    territorial_scope: list[str] = Field(
        default_factory=list, description="ISO 3166-1 alpha-2 codes; empty means everywhere")
    starts_at: datetime
    ends_at: datetime | None = Field(None, description="end of a temporary measure; null = "
                                                       "indefinite")
    added_by_rule: str | None = Field(
        None, description="set when the system added the measure itself, e.g. "
                          "'strike_threshold:3' for a suspension the strike ledger triggered")
    restores: str | None = Field(None, description="for a restoration: the code of the action "
                                                   "it undoes")


class PolicyGround(Payload):
    """The rule a decision rests on, as cited from the policy catalogue."""

    policy_id: str
    policy_version: str
    title: str
    policy_area: str
    ground: Literal["illegal_content", "incompatible_content"]
    legal_basis: str | None = Field(None, description="illegal content: the law relied on")
    clause: str | None = Field(None, description="incompatible content: the terms clause")
    explanation: str = Field(description="why content of this kind breaks the rule")
    reference_url: str | None = None


class StatementOfReasonsRef(Payload):
    puid: str = Field(description="platform unique id of the statement of reasons; stable for "
                                  "the decision, never reused")
    url: str = Field(description="where the decision service serves the statement (path)")
    category: str = Field(description="STATEMENT_CATEGORY_* of the statement")


class AppealRights(Payload):
    deadline: datetime = Field(description="six months after the decision (DSA Art. 20); "
                                           "counted from notification once notify reports it")
    how: str = Field(description="how the affected user or reporter appeals")


AUTOMATED_DECIDER = "automated"  # who "decided" a fully automated decision, where a name is due


class DecisionRecordedV2(Payload):
    """A final enforcement decision: what to enforce, on whom, why, under which rule.

    Emitted only when final (after four-eyes approval where the catalogue requires it). An
    appeal outcome is a decision too: ``appeal_id`` and ``appeal_outcome`` say so, and a
    reversal (or modification) names the decision it ``reverses`` and carries the restoring
    actions, so downstream tools undo the enforcement.
    """

    decision_id: UUID
    case_id: UUID
    subject: Subject
    actions: list[ActionTaken]
    restricts: bool = Field(description="at least one action restricts something")
    policy: PolicyGround
    category: str
    dsa_category: str
    facts: str
    reasoning: str
    automated_detection: bool
    automated_decision: Literal["fully", "partially", "not_automated"]
    automation_rule: str | None = Field(None, description="the routing-policy rule that "
                                                          "decided a fully automated decision")
    decided_by: str | None = Field(None, description="reviewer id; null when fully automated")
    approved_by: str | None = Field(None, description="the second reviewer (four-eyes)")
    decided_at: datetime
    final_at: datetime = Field(description="when it became final (approval time under "
                                           "four-eyes, else decided_at)")
    report_ids: list[UUID] = Field(default_factory=list)
    stage: Literal["review", "appeal"] = "review"
    appeal_id: UUID | None = None
    appeal_outcome: Literal["upheld", "reversed", "modified"] | None = None
    reverses: UUID | None = Field(None, description="the decision this one reverses or "
                                                    "replaces (appeal reversed / modified)")
    statement_of_reasons: StatementOfReasonsRef | None = Field(
        None, description="present whenever the decision restricts something")
    appeal: AppealRights | None = Field(None, description="how and until when to appeal")

    def as_v1(self) -> DecisionRecordedV1:
        """The v1 projection, for consumers whose handling needs only what v1 carried (case
        closing, report status) while v1 records are still retained on the topic."""
        return DecisionRecordedV1(
            decision_id=self.decision_id, case_id=self.case_id, subject=self.subject,
            action=self.summary_action, policy_area=self.policy.policy_area,
            category=self.category, dsa_category=self.dsa_category,
            policy_cited=f"{self.policy.policy_id}@{self.policy.policy_version}",
            rationale=self.reasoning, reviewer_id=self.decided_by or AUTOMATED_DECIDER,
            decided_at=self.final_at, report_ids=self.report_ids, restricts=self.restricts,
            territorial_scope=sorted({c for a in self.actions for c in a.territorial_scope}),
            reverses_decision_id=self.reverses)

    @property
    def summary_action(self) -> str:
        """One code for status displays: the first restricting action, else the first one."""
        for action in self.actions:
            if action.restricts:
                return action.code
        return self.actions[0].code if self.actions else "no_action"


class DecisionPendingApprovalV1(Payload):
    """A decision with a severe or irreversible action waits for a second reviewer. Not final:
    nothing is enforced; routing keeps the case with its reviewer until approval or expiry."""

    decision_id: UUID
    case_id: UUID
    subject: Subject
    decided_by: str
    queue: str
    action_codes: list[str]
    decided_at: datetime
    expires_at: datetime


class DecisionApprovalClosedV1(Payload):
    """A pending decision that will never be final: rejected by the second reviewer, or
    expired unapproved. The case goes back to its queue."""

    decision_id: UUID
    case_id: UUID
    subject: Subject
    outcome: Literal["rejected", "expired"]
    decided_by: str
    closed_by: str | None = Field(None, description="the rejecting reviewer; null on expiry")
    reason: str | None = None
    closed_at: datetime


class AppealFiledV1(Payload):
    appeal_id: UUID
    decision_id: UUID
    case_id: UUID
    subject: Subject
    appellant_id: str
    reason: str
    filed_at: datetime
    original_reviewer_id: str
    appellant_kind: Literal["affected_user", "reporter"] | None = Field(
        None, description="whom the upstream system files for (DSA Art. 20)")
    client_id: str | None = Field(None, description="the upstream system that filed it")
    excluded_reviewer_ids: list[str] = Field(
        default_factory=list, description="everyone who took part in the decision (decided "
                                          "or approved it): none of them may decide the appeal")
    deadline: datetime | None = Field(None, description="the end of the appeal window")


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


REPORT_NORMALIZED_V1 = "warden.report.normalized.v1"
CASE_ROUTED_V1 = "warden.case.routed.v1"
CASE_SLA_V1 = "warden.case.sla.v1"
DECISION_RECORDED_V1 = "warden.decision.recorded.v1"
DECISION_RECORDED_V2 = "warden.decision.recorded.v2"
DECISION_PENDING_APPROVAL_V1 = "warden.decision.pending_approval.v1"
DECISION_APPROVAL_CLOSED_V1 = "warden.decision.approval_closed.v1"
APPEAL_FILED_V1 = "warden.appeal.filed.v1"
NOTIFICATION_DELIVERED_V1 = "warden.notification.delivered.v1"

# type -> (topic, payload model)
EVENT_MODELS: dict[str, tuple[str, type[Payload]]] = {
    REPORT_NORMALIZED_V1: (topics.REPORTS_NORMALIZED, ReportNormalizedV1),
    CASE_ROUTED_V1: (topics.CASES_ROUTED, CaseRoutedV1),
    CASE_SLA_V1: (topics.CASES_SLA, CaseSlaV1),
    DECISION_RECORDED_V1: (topics.DECISIONS_RECORDED, DecisionRecordedV1),
    DECISION_RECORDED_V2: (topics.DECISIONS_RECORDED, DecisionRecordedV2),
    DECISION_PENDING_APPROVAL_V1: (topics.DECISIONS_RECORDED, DecisionPendingApprovalV1),
    DECISION_APPROVAL_CLOSED_V1: (topics.DECISIONS_RECORDED, DecisionApprovalClosedV1),
    APPEAL_FILED_V1: (topics.APPEALS_FILED, AppealFiledV1),
    NOTIFICATION_DELIVERED_V1: (topics.NOTIFICATIONS_DELIVERED, NotificationDeliveredV1),
}


def payload_model_for(event_type: str) -> type[Payload]:
    try:
        return EVENT_MODELS[event_type][1]
    except KeyError:
        raise InvalidMessage(f"unknown event type {event_type!r}") from None


def topic_for(event_type: str) -> str:
    return EVENT_MODELS[event_type][0]
