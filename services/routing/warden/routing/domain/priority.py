"""How urgent a case is: a sum of the policy's weighted factors, climbing deadline tiers."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from warden.routing.policy import PriorityWeights
from warden.shared.contracts.events import Channel


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


def next_priority_review(weights: PriorityWeights, due_at: datetime,
                         now: datetime) -> datetime | None:
    """When the deadline boost next changes: the next tier boundary ahead, or the due time."""
    boundaries = [due_at - tier.within for tier in weights.deadline] + [due_at]
    return min((b for b in boundaries if b > now), default=None)
