"""Routing use cases. Each runs inside one database transaction opened by its caller (a
consumer handler, a route, a worker): load and lock, decide with the pure rules in
``domain``, store, and stage the resulting events in the outbox of the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence
from warden.routing.models import APPEAL, DECIDED, OPEN, Case, CaseHistory, CaseReport
from warden.routing.persistence import PageKey, QueueFigures
from warden.routing.policy import LoadedPolicy, PolicyStore
from warden.routing.settings import RoutingSettings
from warden.shared.auth import Reviewer
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    CASE_SLA_V1,
    AppealFiledV1,
    AutomatedDecisionOrder,
    CaseRoutedV1,
    CaseSlaV1,
    DecisionRecordedV1,
    ReportNormalizedV1,
    Subject,
)
from warden.shared.errors import Conflict, InvalidInput, NotFound, TransientError
from warden.shared.observability import get_logger

log = get_logger(__name__)


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
    payload = CaseRoutedV1(
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
    await ctx.outbox.emit(session, type=CASE_ROUTED_V1, key=case.subject_id, payload=payload,
                          subject=str(case.id))
    queue = case.queue
    after_commit(session, lambda: metrics.CASES_ROUTED.labels(queue, reason).inc())


def _automated_decision(ctx: Routing, case: Case | sa.Row) -> AutomatedDecisionOrder | None:
    rule = ctx.policy.policy.rule(case.rule_id) if case.policy_version == ctx.policy.version \
        else None
    if rule is None or rule.automated_decision is None:
        return None
    return AutomatedDecisionOrder(rule_id=rule.id, policy_version=case.policy_version,
                                  policy_id=rule.automated_decision.policy,
                                  actions=list(rule.automated_decision.actions))


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


# --- reviewers ----------------------------------------------------------------------------------

def _known_queue(ctx: Routing, queue: str) -> None:
    if queue not in ctx.policy.policy.queues:
        known = ", ".join(sorted(ctx.policy.policy.queues))
        raise NotFound(f"no queue {queue!r}; queues are {known}")


def _require_queue_skills(ctx: Routing, reviewer: Reviewer, queue: str) -> None:
    domain.require_skills(reviewer, queue, ctx.policy.policy.skills_for(queue))


async def claim_next(ctx: Routing, session: AsyncSession, queue: str, reviewer: Reviewer, *,
                     lease_seconds: int | None, now: datetime) -> Case | None:
    _known_queue(ctx, queue)
    _require_queue_skills(ctx, reviewer, queue)
    until = domain.lease_until(now, lease_seconds, default_seconds=ctx.settings.lease_seconds,
                               max_seconds=ctx.settings.max_lease_seconds)
    case = await persistence.lock_next_claimable(session, queue, reviewer.id, now)
    if case is None:
        after_commit(session, lambda: metrics.CLAIMS.labels(queue, "empty").inc())
        return None
    if case.assignee_id is not None:
        await _record_expiry(session, case, now)
    case.assignee_id = reviewer.id
    case.lease_expires_at = until
    case.updated_at = now
    await persistence.record_history(session, case, "claimed", actor=reviewer.id, at=now,
                                     detail=f"lease until {until.isoformat()}")
    after_commit(session, lambda: metrics.CLAIMS.labels(queue, "claimed").inc())
    return case


async def _record_expiry(session: AsyncSession, case: Case, now: datetime) -> None:
    detail = f"lease of {case.assignee_id} ran out at {case.lease_expires_at.isoformat()}"
    persistence.clear_lease(case)
    await persistence.record_history(session, case, "lease_expired", detail=detail, at=now)
    queue = case.queue
    after_commit(session, lambda: metrics.LEASES_EXPIRED.labels(queue).inc())


async def _locked_open_case(session: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await persistence.lock_case(session, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.status != OPEN:
        raise Conflict(f"case {case_id} is {case.status}")
    return case


async def release(ctx: Routing, session: AsyncSession, case_id: uuid.UUID, reviewer: Reviewer,
                  *, reason: str | None, now: datetime) -> Case:
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=True)
    previous = case.assignee_id
    persistence.clear_lease(case)
    case.updated_at = now
    detail = f"released (held by {previous})" + (f": {reason}" if reason else "")
    await persistence.record_history(session, case, "released", actor=reviewer.id,
                                     detail=detail, at=now)
    return case


async def renew_lease(ctx: Routing, session: AsyncSession, case_id: uuid.UUID,
                      reviewer: Reviewer, *, lease_seconds: int | None, now: datetime) -> Case:
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=False)
    case.lease_expires_at = domain.lease_until(
        now, lease_seconds, default_seconds=ctx.settings.lease_seconds,
        max_seconds=ctx.settings.max_lease_seconds)
    case.updated_at = now
    await persistence.record_history(session, case, "lease_renewed", actor=reviewer.id, at=now,
                                     detail=f"lease until {case.lease_expires_at.isoformat()}")
    return case


async def transfer(ctx: Routing, session: AsyncSession, case_id: uuid.UUID, reviewer: Reviewer,
                   *, to_queue: str, reason: str, now: datetime) -> Case:
    case = await _locked_open_case(session, case_id)
    domain.require_lease_holder(persistence.lease_of(case), reviewer, now, leads_may=True)
    change = domain.transfer(ctx.policy.policy, persistence.state_of(case), to_queue)
    persistence.apply_state(case, change.state, now)
    persistence.clear_lease(case)
    detail = f"{change.detail} by {reviewer.id}: {reason}"
    await persistence.record_history(session, case, domain.TRANSFERRED, actor=reviewer.id,
                                     detail=detail, at=now)
    await emit_routed(ctx, session, case, reason=domain.TRANSFERRED, detail=detail, now=now)
    return case


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
    _require_queue_skills(ctx, reviewer, case.queue)
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
    _known_queue(ctx, queue)
    _require_queue_skills(ctx, reviewer, queue)
    cases = await persistence.page_of_queue(session, queue, after=decode_cursor(cursor),
                                            limit=limit)
    more = encode_cursor(cases[-1]) if len(cases) == limit else None
    return cases, more


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.priority, case.due_at.isoformat(), str(case.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> PageKey | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        priority, due_at, case_id = json.loads(base64.urlsafe_b64decode(padded))
        return PageKey(priority=int(priority), due_at=datetime.fromisoformat(due_at),
                       case_id=uuid.UUID(case_id))
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this API returned", errors=[{
            "field": "query.cursor", "message": "pass back next_cursor unchanged",
            "type": "cursor"}]) from exc


# --- policy ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReloadOutcome:
    previous: LoadedPolicy
    current: LoadedPolicy

    @property
    def changed(self) -> bool:
        return self.previous.digest != self.current.digest


async def reload_policy(ctx: Routing, session: AsyncSession, now: datetime) -> ReloadOutcome:
    """Re-read the policy file; install it only if valid and it strands no open case."""
    previous = ctx.policy
    try:
        candidate = ctx.policies.read_candidate()
        if candidate.digest != previous.digest:
            await _refuse_if_queues_stranded(session, candidate, now)
    except Exception:
        metrics.POLICY_RELOADS.labels("refused").inc()
        raise
    if candidate.digest == previous.digest:
        metrics.POLICY_RELOADS.labels("unchanged").inc()
        return ReloadOutcome(previous=previous, current=previous)
    ctx.policies.install(candidate)
    publish_policy_metric(previous, candidate)
    metrics.POLICY_RELOADS.labels("applied").inc()
    log.info("routing_policy_reloaded", previous=previous.version, version=candidate.version,
             digest=candidate.digest)
    return ReloadOutcome(previous=previous, current=candidate)


async def _refuse_if_queues_stranded(session: AsyncSession, candidate: LoadedPolicy,
                                     now: datetime) -> None:
    figures = await persistence.queue_figures(session, now, timedelta(0))
    stranded = {q: f.depth for q, f in figures.items() if q not in candidate.policy.queues}
    if stranded:
        listing = ", ".join(f"{q} ({n} open)" for q, n in sorted(stranded.items()))
        raise Conflict(f"the new policy drops queues that still hold open cases: {listing}; "
                       f"transfer those cases first")


def publish_policy_metric(previous: LoadedPolicy | None, current: LoadedPolicy) -> None:
    if previous is not None and previous.digest != current.digest:
        with contextlib.suppress(KeyError):
            metrics.POLICY_INFO.remove(previous.version, previous.digest)
    metrics.POLICY_INFO.labels(current.version, current.digest).set(1)


# --- the SLA watcher and the lease sweeper --------------------------------------------------------

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


async def return_expired_leases(ctx: Routing, session: AsyncSession, now: datetime) -> int:
    cases = await persistence.lock_expired_leases(session, now, ctx.settings.sla_batch_size)
    for case in cases:
        await _record_expiry(session, case, now)
        case.updated_at = now
    return len(cases)


async def publish_queue_metrics(ctx: Routing, session: AsyncSession, now: datetime) -> None:
    for queue in await queue_overview(ctx, session, now):
        f = queue.figures
        metrics.QUEUE_DEPTH.labels(queue.name).set(f.depth)
        metrics.QUEUE_IN_REVIEW.labels(queue.name).set(f.in_review)
        metrics.QUEUE_AT_RISK.labels(queue.name).set(f.at_risk)
        metrics.QUEUE_OVERDUE.labels(queue.name).set(f.overdue)
        oldest = (now - f.oldest_queued_at).total_seconds() if f.oldest_queued_at else 0
        metrics.QUEUE_OLDEST_AGE.labels(queue.name).set(max(0.0, oldest))

