"""The SLA watcher's use cases: announce cases at risk or overdue, and raise the priority of
cases whose due time nears."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence
from warden.routing.service.context import Routing, after_commit, emit_routed
from warden.shared.contracts.events import CASE_SLA_V1, CaseSlaV1, Subject


async def announce_sla(ctx: Routing, session: AsyncSession, state: domain.SlaState,
                       now: datetime) -> int:
    """One batch of cases that became at risk / overdue for a due time not yet announced."""
    margin = timedelta(seconds=ctx.settings.sla_at_risk_margin_s)
    cases = await persistence.lock_needing_sla_event(session, state, now, margin,
                                                     ctx.settings.sla_batch_size)
    for case in cases:
        if state == "overdue":
            case.sla_overdue_for = case.due_at
        else:
            case.sla_at_risk_for = case.due_at
        await ctx.outbox.emit(session, type=CASE_SLA_V1, key=case.subject_id, subject=str(case.id),
                              payload=CaseSlaV1(
                                  case_id=case.id, queue=case.queue, due_at=case.due_at,
                                  state=state, observed_at=now,
                                  subject=Subject.model_validate(case.subject),
                                  policy_area=case.policy_area, priority=case.priority))
        await persistence.record_history(session, case, f"sla_{state}", at=now,
                                         detail=f"due {case.due_at.isoformat()}")
        queue = case.queue
        after_commit(session, lambda q=queue: metrics.SLA_EVENTS.labels(q, state).inc())
    return len(cases)


async def refresh_priorities(ctx: Routing, session: AsyncSession, now: datetime) -> int:
    """One batch of cases whose nearing due time now weighs more in their priority."""
    cases = await persistence.lock_due_for_priority_review(session, now,
                                                           ctx.settings.sla_batch_size)
    for case in cases:
        change = domain.refresh_priority(ctx.policy.policy, persistence.state_of(case), now)
        persistence.apply_state(case, change.state, now)
        if change.reason is not None:
            await persistence.record_history(session, case, change.reason, detail=change.detail,
                                             at=now)
            await emit_routed(ctx, session, case, reason=change.reason, detail=change.detail,
                              now=now)
    return len(cases)
