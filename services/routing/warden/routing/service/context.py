"""What every routing use case shares: the running service's parts, counting after commit, and
the ``warden.case.routed.v1`` event that any change of a case's placement stages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence
from warden.routing.models import APPEAL, Case
from warden.routing.policy import LoadedPolicy, PolicyStore
from warden.routing.settings import RoutingSettings
from warden.shared.auth import Reviewer
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    AutomatedDecisionOrder,
    CaseRoutedV1,
    Subject,
)
from warden.shared.errors import NotFound


@dataclass
class Routing:
    """What the use cases need from the running service."""

    policies: PolicyStore
    outbox: Outbox
    settings: RoutingSettings

    @property
    def policy(self) -> LoadedPolicy:
        return self.policies.current


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Count things only once they happened (a rolled-back attempt is retried and counted then)."""
    event.listen(session.sync_session, "after_commit", lambda _session: action(), once=True)


async def emit_routed(ctx: Routing, session: AsyncSession, case: Case | sa.Row, *, reason: str,
                      detail: str | None, now: datetime,
                      report_ids: list[uuid.UUID] | None = None) -> None:
    if report_ids is None:
        report_ids = await persistence.report_ids(session, case.id,
                                                  ctx.settings.routed_event_max_report_ids)
    payload = routed_payload(ctx, case, reason=reason, detail=detail, now=now,
                             report_ids=report_ids)
    await ctx.outbox.emit(session, type=CASE_ROUTED_V1, key=case.subject_id, payload=payload,
                          subject=str(case.id))
    queue = case.queue
    after_commit(session, lambda: metrics.CASES_ROUTED.labels(queue, reason).inc())


def routed_payload(ctx: Routing, case: Any, *, reason: str, detail: str | None,
                   now: datetime, report_ids: list[uuid.UUID]) -> CaseRoutedV1:
    """The ``warden.case.routed.v1`` payload of a case as it is now (a ``Case``, a row, or
    anything with its columns as attributes)."""
    return CaseRoutedV1(
        case_id=case.id, subject=Subject.model_validate(case.subject),
        policy_area=case.policy_area, category=case.category, queue=case.queue,
        priority=case.priority, due_at=case.due_at, status=case.status, reason=reason,
        report_ids=report_ids, report_count=case.report_count, channels=case.channels,
        rule_id=case.rule_id, policy_version=case.policy_version, routed_at=now,
        previous_case_id=case.previous_case_id,
        excluded_reviewer_id=case.excluded_reviewer_id if case.stage == APPEAL else None,
        reason_detail=detail, stage=case.stage, appeal_id=case.appeal_id,
        legal_deadline=case.legal_deadline,
        automated_decision=_automated_decision(ctx, case) if reason == domain.OPENED else None)


def _automated_decision(ctx: Routing, case: Any) -> AutomatedDecisionOrder | None:
    """A case opened by a rule flagged for automated decisions carries the order to decide it."""
    rule = ctx.policy.policy.rule(case.rule_id) if case.policy_version == ctx.policy.version \
        else None
    if rule is None or rule.automated_decision is None:
        return None
    return AutomatedDecisionOrder(rule_id=rule.id, policy_version=case.policy_version,
                                  policy_id=rule.automated_decision.policy,
                                  actions=list(rule.automated_decision.actions))


def known_queue(ctx: Routing, queue: str) -> None:
    if queue not in ctx.policy.policy.queues:
        known = ", ".join(sorted(ctx.policy.policy.queues))
        raise NotFound(f"no queue {queue!r}; queues are {known}")


def require_queue_skills(ctx: Routing, reviewer: Reviewer, queue: str) -> None:
    domain.require_skills(reviewer, queue, ctx.policy.policy.skills_for(queue))
