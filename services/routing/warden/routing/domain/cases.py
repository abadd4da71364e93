"""A case's life in routing: opened, joined by further reports, re-prioritised, reopened for
an appeal, transferred — each change with the reason consumers of ``cases.routed`` see."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from warden.routing.domain.placement import Placement, as_utc, place_report, reporter_key
from warden.routing.domain.priority import compute_priority, next_priority_review
from warden.routing.policy import PriorityWeights, RoutingPolicy
from warden.shared.contracts.events import Channel, ReportNormalizedV1
from warden.shared.errors import Conflict, InvalidInput

APPEAL_RULE_ID = "appeal"

# Why a case's routing changed (``CaseRoutedV1.reason``).
OPENED = "opened"
REPORT_JOINED = "report_joined"
ESCALATED = "escalated"
TRANSFERRED = "transferred"
DEADLINE_APPROACHING = "deadline_approaching"
REOPENED_FOR_APPEAL = "reopened_for_appeal"
DECIDED = "decided"


@dataclass(frozen=True)
class CaseState:
    """The routing-relevant state of a case (what priority and due time are computed from)."""

    queue: str
    rule_id: str
    policy_version: str
    category: str
    severity: int
    base_priority: int
    priority: int
    due_at: datetime
    legal_deadline: datetime | None
    channels: tuple[Channel, ...]
    report_count: int
    reporters: int
    priority_handling: bool
    priority_review_at: datetime | None = None  # when closeness to the due time next counts more

    def recomputed_priority(self, weights: PriorityWeights, now: datetime) -> int:
        return compute_priority(weights, base_priority=self.base_priority, severity=self.severity,
                                channels=self.channels, reporters=self.reporters,
                                priority_handling=self.priority_handling, due_at=self.due_at,
                                now=now)


def reprioritised(policy: RoutingPolicy, state: CaseState, now: datetime, *,
                  floor: int) -> CaseState:
    """Priority recomputed from the policy's weights, never below ``floor``."""
    return replace(state, priority=max(floor, state.recomputed_priority(policy.priority, now)),
                   priority_review_at=next_priority_review(policy.priority, state.due_at, now))


@dataclass(frozen=True)
class Change:
    """A new case state and why it changed (``None`` reason: nothing a consumer must know)."""

    state: CaseState
    reason: str | None
    detail: str | None = None
    queue_changed: bool = False


def open_case(policy: RoutingPolicy, placement: Placement, report: ReportNormalizedV1,
              now: datetime) -> CaseState:
    state = CaseState(
        queue=placement.queue, rule_id=placement.rule_id, policy_version=policy.version,
        category=report.category, severity=placement.severity,
        base_priority=placement.base_priority, priority=0, due_at=placement.due_at,
        legal_deadline=placement.legal_deadline, channels=(report.channel,), report_count=1,
        reporters=1, priority_handling=report.priority_handling)
    return reprioritised(policy, state, now, floor=0)


def join_case(policy: RoutingPolicy, case: CaseState, placement: Placement,
              report: ReportNormalizedV1, *, new_reporter: bool, now: datetime) -> Change:
    """A further report joins an open case: counts, channels and deadlines update, and the
    case moves to a more severe report's queue (so a terrorism report on content filed
    under hate speech reaches a reviewer trained for it). Priority never drops here."""
    escalates = placement.severity > case.severity and placement.queue != case.queue
    more_severe = placement.severity > case.severity
    state = replace(
        case,
        channels=tuple(sorted({*case.channels, report.channel})),
        report_count=case.report_count + 1,
        reporters=case.reporters + (1 if new_reporter else 0),
        priority_handling=case.priority_handling or report.priority_handling,
        due_at=min(case.due_at, placement.due_at),
        legal_deadline=min((d for d in (case.legal_deadline, placement.legal_deadline) if d),
                           default=None),
        base_priority=max(case.base_priority, placement.base_priority),
        severity=max(case.severity, placement.severity),
        category=report.category if more_severe else case.category,
    )
    if escalates:
        state = replace(state, queue=placement.queue, rule_id=placement.rule_id,
                        policy_version=policy.version)
    state = reprioritised(policy, state, now, floor=case.priority)
    detail = describe_changes(case, state)
    return Change(state=state, reason=ESCALATED if escalates else REPORT_JOINED, detail=detail,
                  queue_changed=escalates)


def case_from_reports(policy: RoutingPolicy, reports: list[ReportNormalizedV1],
                      now: datetime) -> tuple[CaseState, Placement]:
    """The state of a case made of these reports, as if they had arrived in this order
    (with the placement of the first, which opened it)."""
    first, *rest = reports
    opening = place_report(policy, first)
    state = open_case(policy, opening, first, now)
    seen = {reporter_key(first)}
    for report in rest:
        key = reporter_key(report)
        state = join_case(policy, state, place_report(policy, report), report,
                          new_reporter=key is None or key not in seen, now=now).state
        seen.add(key)
    return state, opening


def describe_changes(before: CaseState, after: CaseState) -> str | None:
    parts = []
    if after.queue != before.queue:
        parts.append(f"queue {before.queue} -> {after.queue} (category {after.category})")
    if after.priority != before.priority:
        parts.append(f"priority {before.priority} -> {after.priority}")
    if after.due_at != before.due_at:
        parts.append(f"due {before.due_at.isoformat()} -> {after.due_at.isoformat()}")
    return "; ".join(parts) or None


def refresh_priority(policy: RoutingPolicy, case: CaseState, now: datetime) -> Change:
    """As the due time nears, priority climbs the policy's deadline tiers (the reason is
    ``None`` when this tier adds nothing above the current priority)."""
    state = reprioritised(policy, case, now, floor=case.priority)
    if state.priority == case.priority:
        return Change(state=state, reason=None)
    return Change(state=state, reason=DEADLINE_APPROACHING, detail=describe_changes(case, state))


def reopen_for_appeal(policy: RoutingPolicy, case: CaseState, *, filed_at: datetime,
                      now: datetime) -> Change:
    """An appeal puts the decided case in the appeals queue with a fresh clock."""
    appeals = policy.appeals
    state = replace(case, queue=appeals.queue, rule_id=APPEAL_RULE_ID,
                    policy_version=policy.version, base_priority=appeals.base_priority,
                    due_at=as_utc(filed_at) + policy.appeals_sla(), legal_deadline=None)
    state = reprioritised(policy, state, now, floor=0)
    return Change(state=state, reason=REOPENED_FOR_APPEAL, detail=describe_changes(case, state),
                  queue_changed=case.queue != state.queue)


def transfer(policy: RoutingPolicy, case: CaseState, to_queue: str) -> Change:
    """A reviewer sends a case to another queue. The clock does not restart: the due time
    (and any legal deadline in it) and the priority stay."""
    if to_queue not in policy.queues:
        raise InvalidInput(f"unknown queue {to_queue!r}", errors=[{
            "field": "body.queue", "message": f"must be one of {sorted(policy.queues)}",
            "type": "enum"}])
    if to_queue == case.queue:
        raise Conflict(f"the case is already in queue {to_queue!r}")
    state = replace(case, queue=to_queue)
    return Change(state=state, reason=TRANSFERRED, detail=describe_changes(case, state),
                  queue_changed=True)
