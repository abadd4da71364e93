"""What a routing policy says: queues, rules, deadline tiers and priority weights.

The schema of the versioned YAML file; loading.py validates a file against it and store.py
keeps the policy in force.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from warden.shared.contracts.events import Channel, ReportNormalizedV1
from warden.shared.contracts.taxonomy import PolicyArea
from warden.shared.durations import Duration

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Spec(BaseModel):
    # A misspelt key must be an error, not a silently ignored condition.
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueSpec(_Spec):
    sla: Duration = Field(description="time allowed from the first report to a decision")
    skills: list[Name] = Field(default_factory=list,
                               description="skills a reviewer needs to see and claim its cases")
    description: str = ""


class SignalCondition(_Spec):
    """A test on one detector signal; every operator given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    eq: float | str | None = None
    one_of: list[str] | None = Field(default=None, alias="in")

    def is_empty(self) -> bool:
        return all(v is None for v in (self.gte, self.gt, self.lte, self.lt, self.eq, self.one_of))

    def holds(self, value: float | str | None) -> bool:
        if value is None:
            return False
        if self.eq is not None and value != self.eq:
            return False
        if self.one_of is not None and str(value) not in self.one_of:
            return False
        bounds = [(self.gte, float.__ge__), (self.gt, float.__gt__),
                  (self.lte, float.__le__), (self.lt, float.__lt__)]
        if any(bound is not None for bound, _ in bounds):
            if not isinstance(value, int | float):
                return False  # a textual signal never satisfies a numeric threshold
            return all(bound is None or test(float(value), bound) for bound, test in bounds)
        return True


class Match(_Spec):
    """Conditions on a report; each list means "any of these", and all conditions must hold."""

    channel: list[Channel] | None = None
    category: list[str] | None = None
    policy_area: list[PolicyArea] | None = None
    subject_type: list[str] | None = None
    jurisdiction: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(
        default=None, description="matches when the report's scope includes any of these codes")
    signals: dict[str, SignalCondition] | None = None

    @property
    def catches_all(self) -> bool:
        return all(value is None for value in (self.channel, self.category, self.policy_area,
                                               self.subject_type, self.jurisdiction, self.signals))

    def holds_for(self, report: ReportNormalizedV1) -> bool:
        if self.channel is not None and report.channel not in self.channel:
            return False
        if self.category is not None and report.category not in self.category:
            return False
        if self.policy_area is not None and report.policy_area not in self.policy_area:
            return False
        if self.subject_type is not None and report.subject.type not in self.subject_type:
            return False
        if self.jurisdiction is not None and not (
                {j.upper() for j in report.jurisdictions} & set(self.jurisdiction)):
            return False
        if self.signals is not None:
            return all(test.holds(report.signals.get(name)) for name, test in self.signals.items())
        return True


class AutomatedDecision(_Spec):
    """Flag on a rule: the cases it opens are decided without a reviewer. The rule's own
    conditions carry the confidence threshold (e.g. ``signals: {hash_match: {gte: 0.99}}``);
    the decision service checks the policy and actions against its catalogues."""

    policy: Annotated[str, Field(min_length=1, max_length=100)]
    actions: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(min_length=1)


class Rule(_Spec):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
    description: str = ""
    match: Match = Field(default_factory=Match)
    queue: Name
    base_priority: int = Field(ge=0, le=500)
    sla: Duration | None = Field(default=None, description="overrides the queue's SLA")
    automated_decision: AutomatedDecision | None = Field(
        default=None, description="decide the cases this rule opens automatically")


class DeadlineTier(_Spec):
    within: Duration
    boost: int = Field(ge=0, le=500)


class PriorityWeights(_Spec):
    """How much each factor adds to a case's priority (higher is reviewed first)."""

    severity: int = Field(10, ge=0, le=100, description="per taxonomy severity level (1-5)")
    channel: dict[Channel, int] = Field(default_factory=lambda: {
        Channel.REGULATOR: 40, Channel.TRUSTED_FLAGGER: 30, Channel.RIGHTS_HOLDER: 10,
        Channel.ADVERTISER: 10, Channel.AUTOMATED: 0, Channel.USER: 0})
    priority_handling: int = Field(10, ge=0, le=200,
                                   description="a report marked for priority handling (Art. 22)")
    reporters_step: int = Field(5, ge=0, le=100,
                                description="added each time the number of reporters doubles")
    reporters_cap: int = Field(25, ge=0, le=500)
    deadline: list[DeadlineTier] = Field(default_factory=lambda: [
        DeadlineTier(within=timedelta(hours=1), boost=30),
        DeadlineTier(within=timedelta(hours=4), boost=20),
        DeadlineTier(within=timedelta(hours=24), boost=10)])
    overdue: int = Field(40, ge=0, le=500)


class AppealsSpec(_Spec):
    queue: Name = "appeals"
    base_priority: int = Field(30, ge=0, le=500)
    sla: Duration | None = Field(default=None, description="defaults to the queue's SLA")


class RoutingPolicy(_Spec):
    version: Annotated[str, Field(min_length=1, max_length=100)]
    description: str = ""
    queues: dict[Name, QueueSpec] = Field(min_length=1)
    statutory_deadlines: dict[str, Duration] = Field(
        default_factory=dict,
        description="category -> the longest time the law allows from receipt (applied even "
                    "when a report carries no deadline of its own)")
    order_deadlines: dict[Name, Duration] = Field(
        default_factory=dict,
        description="legal order type -> the longest time the law allows from receipt")
    priority: PriorityWeights = Field(default_factory=PriorityWeights)
    appeals: AppealsSpec = Field(default_factory=AppealsSpec)
    rules: list[Rule] = Field(min_length=1)

    def route(self, report: ReportNormalizedV1) -> Rule:
        """The first rule whose conditions hold (validation guarantees the last one always does)."""
        return next(rule for rule in self.rules if rule.match.holds_for(report))

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def sla_of(self, rule: Rule) -> timedelta:
        return rule.sla or self.queues[rule.queue].sla

    def appeals_sla(self) -> timedelta:
        return self.appeals.sla or self.queues[self.appeals.queue].sla

    def skills_for(self, queue: str) -> frozenset[str]:
        spec = self.queues.get(queue)
        return frozenset(spec.skills) if spec else frozenset()

    def statutory_deadline(self, category: str, received_at: datetime,
                           order_type: str | None = None) -> datetime | None:
        """The earliest deadline the law itself sets for this kind of report, from receipt."""
        limits = [self.statutory_deadlines.get(category),
                  self.order_deadlines.get(order_type) if order_type else None]
        return min((received_at + limit for limit in limits if limit is not None), default=None)
