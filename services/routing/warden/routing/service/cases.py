"""Cases from events: a report opens or joins a case, a decision closes it (moving reports
that joined after the decision to a follow-up case), an appeal reopens it for another reviewer."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence
from warden.routing.models import APPEAL, DECIDED, OPEN, Case
from warden.routing.service.context import Routing, after_commit, emit_routed
from warden.shared.contracts.events import AppealFiledV1, DecisionRecordedV1, ReportNormalizedV1
from warden.shared.errors import NotFound, TransientError
from warden.shared.observability import get_logger

log = get_logger(__name__)


# --- reports in ---------------------------------------------------------------------------------

async def route_report(ctx: Routing, session: AsyncSession, report: ReportNormalizedV1,
                       now: datetime) -> sa.Row | None:
    """Open a case for the report, or add it to the open case on the same subject and area.

    A report seen before (the same report under another event id) changes nothing; were two
    copies routed at the same moment, the report's primary key fails one of them, whose
    retry then finds the report known.
    """
    if await persistence.report_is_known(session, report.report_id):
        log.info("report_already_routed", report_id=str(report.report_id))
        after_commit(session, lambda: metrics.REPORTS_ROUTED.labels("duplicate").inc())
        return None
    loaded = ctx.policy
    placement = domain.place_report(loaded.policy, report)
    for _ in range(3):
        case = await persistence.lock_open_case(session, report.subject.id, report.policy_area)
        if case is not None:
            return await _join(ctx, session, case, placement, report, now)
        case = await _open(ctx, session, placement, report, now)
        if case is not None:
            return case
        # Another consumer opened the case between our look and our insert: join theirs.
    raise TransientError(f"the open case on subject {report.subject.id!r} kept changing")


async def _open(ctx: Routing, session: AsyncSession, placement: domain.Placement,
                report: ReportNormalizedV1, now: datetime) -> sa.Row | None:
    loaded = ctx.policy
    state = domain.open_case(loaded.policy, placement, report, now)
    previous = await persistence.latest_case_id(session, report.subject.id, report.policy_area)
    case = await persistence.insert_open_case(session, report=report, state=state,
                                              previous_case_id=previous, now=now)
    if case is None:
        return None
    await persistence.add_report(session, case.id, report, rule_id=placement.rule_id,
                                 legal_deadline=placement.legal_deadline, now=now)
    detail = f"rule {placement.rule_id} of policy {loaded.version}"
    if previous is not None:
        detail += f"; follows case {previous}"
    await persistence.record_history(session, case, domain.OPENED, detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=domain.OPENED, detail=detail, now=now,
                      report_ids=[report.report_id])
    after_commit(session, lambda: metrics.REPORTS_ROUTED.labels("opened").inc())
    return case


async def _join(ctx: Routing, session: AsyncSession, case: sa.Row, placement: domain.Placement,
                report: ReportNormalizedV1, now: datetime) -> sa.Row:
    new_reporter = not await persistence.reporter_seen(session, case.id,
                                                       domain.reporter_key(report))
    change = domain.join_case(ctx.policy.policy, persistence.state_of(case), placement, report,
                              new_reporter=new_reporter, now=now)
    values = {**persistence.state_values(change.state), "updated_at": now}
    if change.queue_changed:
        # The case now needs other skills; whoever holds it may not have them.
        values.update(queued_at=now, assignee_id=None, lease_expires_at=None)
    case = await persistence.update_case(session, case.id, values)
    await persistence.add_report(session, case.id, report, rule_id=placement.rule_id,
                                 legal_deadline=placement.legal_deadline, now=now)
    detail = f"report {report.report_id} ({report.channel.value}, {report.category})"
    if change.detail:
        detail += f": {change.detail}"
    await persistence.record_history(session, case, change.reason, detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=change.reason, detail=change.detail, now=now)
    after_commit(session, lambda: metrics.REPORTS_ROUTED.labels("joined").inc())
    return case


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
