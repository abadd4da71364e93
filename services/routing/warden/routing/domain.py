"""Routing rules: where a report goes, how urgent a case is, who may work on it. No I/O here.

A case gathers every report on one subject within one policy area while it is open. Its
due time is the earliest of each report's own due time (received + the SLA of the rule
that placed it) and every legal deadline; its priority is a sum of weighted factors from
the policy and only rises while the case is open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from warden.routing.policy import PriorityWeights, RoutingPolicy
from warden.shared.auth import LEAD_ROLES, Reviewer
from warden.shared.contracts.events import Channel, ReportNormalizedV1
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.errors import Conflict, Forbidden, InvalidInput

APPEAL_RULE_ID = "appeal"

# Why a case's routing changed (``CaseRoutedV1.reason``).
OPENED = "opened"
REPORT_JOINED = "report_joined"
ESCALATED = "escalated"
TRANSFERRED = "transferred"
DEADLINE_APPROACHING = "deadline_approaching"
REOPENED_FOR_APPEAL = "reopened_for_appeal"
DECIDED = "decided"

SlaState = Literal["at_risk", "overdue"]


def as_utc(moment: datetime) -> datetime:
    """A timestamp without a zone is taken as UTC rather than refused: the report still counts."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def severity_of(category: str) -> int:
    known = CATEGORIES.get(category)
    return known.severity if known else 1


@dataclass(frozen=True)
class Placement:
    """Where the policy puts one report, and by when that report must be dealt with."""

    rule_id: str
    queue: str
    base_priority: int
    severity: int
    due_at: datetime
    legal_deadline: datetime | None


def legal_deadline(policy: RoutingPolicy, report: ReportNormalizedV1) -> datetime | None:
    """The earliest deadline the law sets: the one the report carries, or the statutory one
    for its category counted from receipt (a removal order that omits it still gets 1 h)."""
    received = as_utc(report.received_at)
    stated = as_utc(report.legal.deadline) if report.legal and report.legal.deadline else None
    order_type = report.legal.order_type if report.legal else None
    statutory = policy.statutory_deadline(report.category, received, order_type)
    return min((d for d in (stated, statutory) if d is not None), default=None)


def place_report(policy: RoutingPolicy, report: ReportNormalizedV1) -> Placement:
    rule = policy.route(report)
    deadline = legal_deadline(policy, report)
    sla_due = as_utc(report.received_at) + policy.sla_of(rule)
    return Placement(rule_id=rule.id, queue=rule.queue, base_priority=rule.base_priority,
                     severity=severity_of(report.category),
                     due_at=min(sla_due, deadline) if deadline else sla_due,
                     legal_deadline=deadline)


def reporters_boost(weights: PriorityWeights, reporters: int) -> int:
    """Grows with each doubling of distinct reporters: a pile-on raises a case, a single
    account reporting a hundred times does not."""
    if reporters <= 1:
        return 0
    return min(weights.reporters_cap, weights.reporters_step * int(math.log2(reporters)))


def deadline_boost(weights: PriorityWeights, due_at: datetime, now: datetime) -> int:
    remaining = due_at - now
    if remaining <= timedelta(0):
        return weights.overdue
    return max((tier.boost for tier in weights.deadline if remaining <= tier.within), default=0)


def compute_priority(weights: PriorityWeights, *, base_priority: int, severity: int,
                     channels: tuple[Channel, ...], reporters: int, priority_handling: bool,
                     due_at: datetime, now: datetime) -> int:
    channel = max((weights.channel.get(c, 0) for c in channels), default=0)
    return (base_priority
            + weights.severity * severity
            + channel
            + (weights.priority_handling if priority_handling else 0)
            + reporters_boost(weights, reporters)
            + deadline_boost(weights, due_at, now))


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


def next_priority_review(weights: PriorityWeights, due_at: datetime,
                         now: datetime) -> datetime | None:
    """When the deadline boost next changes: the next tier boundary ahead, or the due time."""
    boundaries = [due_at - tier.within for tier in weights.deadline] + [due_at]
    return min((b for b in boundaries if b > now), default=None)


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


def reporter_key(report: ReportNormalizedV1) -> str | None:
    """Who reported, as far as we know them (anonymous reports count as distinct reporters)."""
    return f"{report.reporter.kind.value}:{report.reporter.id}" if report.reporter.id else None


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


def require_skills(reviewer: Reviewer, queue: str, skills: frozenset[str]) -> None:
    if not reviewer.has_skills(skills):
        missing = ", ".join(sorted(skills - reviewer.skills))
        raise Forbidden(f"queue {queue!r} needs the skills: {missing}")


def is_lead(reviewer: Reviewer) -> bool:
    return bool(reviewer.roles & LEAD_ROLES)


def lease_until(now: datetime, requested_seconds: int | None, *, default_seconds: int,
                max_seconds: int) -> datetime:
    seconds = default_seconds if requested_seconds is None else requested_seconds
    if not 1 <= seconds <= max_seconds:
        raise InvalidInput(f"lease_seconds must be between 1 and {max_seconds}", errors=[{
            "field": "body.lease_seconds", "message": f"between 1 and {max_seconds}",
            "type": "range"}])
    return now + timedelta(seconds=seconds)


@dataclass(frozen=True)
class LeaseView:
    assignee_id: str | None
    lease_expires_at: datetime | None

    def active(self, now: datetime) -> bool:
        return bool(self.assignee_id and self.lease_expires_at and self.lease_expires_at > now)


def require_lease_holder(lease: LeaseView, reviewer: Reviewer, now: datetime, *,
                         leads_may: bool) -> None:
    """Only the reviewer holding a live lease acts on a claimed case (a lead may step in where
    ``leads_may``: releasing or transferring a case someone left behind)."""
    if leads_may and is_lead(reviewer):
        return
    if not lease.active(now):
        raise Conflict("you do not hold a lease on this case (it is unclaimed or the lease "
                       "expired); claim it first")
    if lease.assignee_id != reviewer.id:
        raise Conflict(f"the case is leased to another reviewer until "
                       f"{lease.lease_expires_at.isoformat()}")
