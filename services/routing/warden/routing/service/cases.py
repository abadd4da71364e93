"""Cases from outcomes: a decision closes a case (moving reports that joined after the
decision to a follow-up case), an appeal reopens it for another reviewer (reports in: see
``reports``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, persistence
from warden.routing.models import APPEAL, DECIDED, OPEN, Case
from warden.routing.service.context import Routing, emit_routed
from warden.shared.contracts.events import AppealFiledV1, DecisionRecordedV1, ReportNormalizedV1
from warden.shared.errors import NotFound, TransientError


# --- outcomes from the decision service ---------------------------------------------------------

async def close_on_decision(ctx: Routing, session: AsyncSession, decision: DecisionRecordedV1,
                            now: datetime) -> None:
    case = await persistence.lock_case(session, decision.case_id)
    if case is None:
        raise NotFound(f"decision {decision.decision_id} is about case {decision.case_id}, "
                       f"which routing does not know")
    if case.decision_id == decision.decision_id:
        return  # already applied (an appeal may have told us first)
    if case.status != OPEN:
        await persistence.record_history(
            session, case, "decision_recorded", actor=decision.reviewer_id, at=now,
            detail=f"decision {decision.decision_id} ({decision.action}) on a closed case")
        return
    _close(case, decision_id=decision.decision_id, decided_by=decision.reviewer_id, now=now)
    detail = f"decision {decision.decision_id}: {decision.action}"
    late = await persistence.reports_joined_after(session, case.id,
                                                  domain.as_utc(decision.decided_at))
    if late and len(late) < case.report_count:
        await _follow_up(ctx, session, case, late, decision, now)
        detail += f"; {len(late)} report(s) received after it moved to a follow-up case"
    await persistence.record_history(session, case, domain.DECIDED, actor=decision.reviewer_id,
                                     detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=domain.DECIDED, detail=detail, now=now)


async def _follow_up(ctx: Routing, session: AsyncSession, closed: Case,
                     late: list[ReportNormalizedV1], decision: DecisionRecordedV1,
                     now: datetime) -> None:
    """Reports that joined after the decision was taken were not part of it: they open a new
    case, linked to the decided one, exactly as if they had arrived after the close."""
    await session.flush()  # the close must be visible to the one-open-case index first
    state, opening = domain.case_from_reports(ctx.policy.policy, late, now)
    follow_up = await persistence.insert_open_case(session, report=late[0], state=state,
                                                   previous_case_id=closed.id, now=now)
    if follow_up is None:
        raise TransientError(f"another case on subject {closed.subject_id!r} opened meanwhile")
    await persistence.move_reports(session, [r.report_id for r in late], follow_up.id)
    closed.report_count, closed.reporter_count = await persistence.count_reports(session,
                                                                                 closed.id)
    detail = (f"rule {opening.rule_id} of policy {ctx.policy.version}; follows case {closed.id}: "
              f"{len(late)} report(s) received after decision {decision.decision_id}")
    await persistence.record_history(session, follow_up, domain.OPENED, detail=detail, at=now)
    await emit_routed(ctx, session, follow_up, reason=domain.OPENED, detail=detail, now=now)


def _close(case: Case, *, decision_id: uuid.UUID, decided_by: str, now: datetime) -> None:
    case.status = DECIDED
    case.decision_id = decision_id
    case.decided_by = decided_by
    case.closed_at = now
    case.updated_at = now
    case.priority_review_at = None
    persistence.clear_lease(case)


async def reopen_on_appeal(ctx: Routing, session: AsyncSession, appeal: AppealFiledV1,
                           now: datetime) -> None:
    """The decided case goes to the appeals queue, out of reach of the reviewer who decided."""
    case = await persistence.lock_case(session, appeal.case_id)
    if case is None:
        raise NotFound(f"appeal {appeal.appeal_id} is about case {appeal.case_id}, "
                       f"which routing does not know")
    if case.appeal_id == appeal.appeal_id:
        return
    if case.status == OPEN and case.stage == APPEAL:
        await persistence.record_history(
            session, case, "appeal_filed", actor=appeal.appellant_id, at=now,
            detail=f"appeal {appeal.appeal_id} joins the appeal already under review")
        return
    if case.status == OPEN:
        # decisions.recorded has not reached us yet (another topic); the appeal proves the
        # decision exists, so close the first instance with what the appeal tells us.
        _close(case, decision_id=appeal.decision_id, decided_by=appeal.original_reviewer_id,
               now=now)
        await persistence.record_history(
            session, case, domain.DECIDED, actor=appeal.original_reviewer_id, at=now,
            detail=f"decision {appeal.decision_id}, learnt from appeal {appeal.appeal_id}")
    change = domain.reopen_for_appeal(ctx.policy.policy, persistence.state_of(case),
                                      filed_at=appeal.filed_at, now=now)
    persistence.apply_state(case, change.state, now)
    case.status, case.stage = OPEN, APPEAL
    case.appeal_id = appeal.appeal_id
    case.excluded_reviewer_id = appeal.original_reviewer_id
    case.closed_at = None
    case.queued_at = now
    persistence.clear_lease(case)
    detail = (f"appeal {appeal.appeal_id} against decision {appeal.decision_id}; "
              f"not for {appeal.original_reviewer_id}")
    await persistence.record_history(session, case, domain.REOPENED_FOR_APPEAL,
                                     actor=appeal.appellant_id, detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=domain.REOPENED_FOR_APPEAL, detail=detail,
                      now=now)
