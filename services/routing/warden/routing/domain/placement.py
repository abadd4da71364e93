"""Where one report goes: the rule that places it, its queue, and by when it must be dealt with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from warden.routing.policy import RoutingPolicy
from warden.shared.contracts.events import ReportNormalizedV1
from warden.shared.contracts.taxonomy import CATEGORIES


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


def reporter_key(report: ReportNormalizedV1) -> str | None:
    """Who reported, as far as we know them (anonymous reports count as distinct reporters)."""
    return f"{report.reporter.kind.value}:{report.reporter.id}" if report.reporter.id else None
