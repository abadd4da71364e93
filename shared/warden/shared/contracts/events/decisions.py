"""Decision's events: what downstream tools enforce (``decisions.recorded`` v1 and v2), and
the four-eyes steps before a decision is final."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from warden.shared.contracts.events.common import Payload, Subject


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
    document: dict[str, Any] | None = Field(
        None, description="the statement itself, exactly as the Transparency Database API "
                          "takes it (notify submits it there; services never call each other)")


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
