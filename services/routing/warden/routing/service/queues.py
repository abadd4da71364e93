"""What reviewers and dashboards read: a case file, the queues' figures, a page of a queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import metrics, persistence
from warden.routing.models import Case, CaseHistory, CaseReport
from warden.routing.persistence import PageKey, QueueFigures
from warden.routing.service.context import Routing, known_queue, require_queue_skills
from warden.shared import cursors
from warden.shared.auth import Reviewer
from warden.shared.errors import NotFound


@dataclass(frozen=True)
class CaseFile:
    case: Case
    reports: list[CaseReport]
    history: list[CaseHistory]


async def read_case(ctx: Routing, session: AsyncSession, case_id: uuid.UUID,
                    reviewer: Reviewer) -> CaseFile:
    case = await persistence.get_case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    require_queue_skills(ctx, reviewer, case.queue)
    return CaseFile(case=case, reports=await persistence.reports_of(session, case_id),
                    history=await persistence.history_of(session, case_id))


@dataclass(frozen=True)
class QueueOverview:
    name: str
    skills: frozenset[str]
    sla: timedelta | None
    figures: QueueFigures
    in_policy: bool


async def queue_overview(ctx: Routing, session: AsyncSession,
                         now: datetime) -> list[QueueOverview]:
    """Every queue of the policy, plus any queue a reload removed that still holds cases."""
    policy = ctx.policy.policy
    figures = await persistence.queue_figures(
        session, now, timedelta(seconds=ctx.settings.sla_at_risk_margin_s))
    names = [*policy.queues, *sorted(set(figures) - set(policy.queues))]
    return [QueueOverview(name=name, skills=policy.skills_for(name),
                          sla=policy.queues[name].sla if name in policy.queues else None,
                          figures=figures.get(name, QueueFigures()),
                          in_policy=name in policy.queues)
            for name in names]


async def list_queue(ctx: Routing, session: AsyncSession, queue: str, reviewer: Reviewer, *,
                     cursor: str | None, limit: int) -> tuple[list[Case], str | None]:
    known_queue(ctx, queue)
    require_queue_skills(ctx, reviewer, queue)
    cases = await persistence.page_of_queue(session, queue, after=decode_cursor(cursor),
                                            limit=limit)
    more = encode_cursor(cases[-1]) if len(cases) == limit else None
    return cases, more


def encode_cursor(case: Case) -> str:
    return cursors.encode_cursor(case.priority, case.due_at, case.id)


def decode_cursor(cursor: str | None) -> PageKey | None:
    if not cursor:
        return None
    priority, due_at, case_id = cursors.decode_cursor(cursor, int, datetime, uuid.UUID)
    return PageKey(priority=priority, due_at=due_at, case_id=case_id)


async def publish_queue_metrics(ctx: Routing, session: AsyncSession, now: datetime) -> None:
    for queue in await queue_overview(ctx, session, now):
        f = queue.figures
        metrics.QUEUE_DEPTH.labels(queue.name).set(f.depth)
        metrics.QUEUE_IN_REVIEW.labels(queue.name).set(f.in_review)
        metrics.QUEUE_AT_RISK.labels(queue.name).set(f.at_risk)
        metrics.QUEUE_OVERDUE.labels(queue.name).set(f.overdue)
        oldest = (now - f.oldest_queued_at).total_seconds() if f.oldest_queued_at else 0
        metrics.QUEUE_OLDEST_AGE.labels(queue.name).set(max(0.0, oldest))
