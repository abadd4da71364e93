"""Reports in: each report opens a case or joins the open case on its subject and policy area.

A run of reports (consecutive records of one fetch, in one transaction) is routed with
set-based statements (``report_store``): a fixed handful per run rather than eight per report.
The outcome is the one of routing the reports one after another in their order: a subject's
reports are folded into its case in order, each leaves its own history row and its own
``warden.case.routed.v1`` event (the case as it stood after that report), and the events are
staged in the order of the reports, so per-subject order holds.

A report seen before (the same report under another event id, or twice in the run) changes
nothing. If another transaction opens a case on one of the run's subjects meanwhile, that
subject's reports are planned again against the case it opened (they join it).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import domain, metrics, persistence, report_store
from warden.routing.models import OPEN, REVIEW
from warden.routing.report_store import CHANGED_COLUMNS, Pair
from warden.routing.service.context import Routing, after_commit, routed_payload
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import CASE_ROUTED_V1, ReportNormalizedV1
from warden.shared.errors import TransientError
from warden.shared.observability import get_logger

log = get_logger(__name__)

Scope = Callable[[], AbstractContextManager[Any]]
_ROUNDS = 3


@dataclass
class _Plan:
    """What a run's reports do to the case of one subject and area."""

    case: SimpleNamespace  # the case's columns, as they stand after the last planned report
    opens: bool
    reports: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[int, CloudEvent, str]] = field(default_factory=list)  # (report index, ..)
    routed: list[tuple[str, str]] = field(default_factory=list)  # (queue, reason) per event


async def route_report(ctx: Routing, session: AsyncSession, report: ReportNormalizedV1,
                       now: datetime) -> SimpleNamespace | None:
    """Route one report; the case it opened or joined (``None``: routed before)."""
    return (await route_reports(ctx, session, [report], now))[0]


async def route_reports(ctx: Routing, session: AsyncSession, reports: list[ReportNormalizedV1],
                        now: datetime, scopes: list[Scope] | None = None,
                        ) -> list[SimpleNamespace | None]:
    """Route ``reports`` in order; per report, the case it is in (``None``: routed before).
    ``scopes[i]`` is entered while report *i*'s event is built (its trace and correlation)."""
    known = await report_store.known_reports(session, [r.report_id for r in reports])
    todo: dict[Pair, list[int]] = {}
    duplicates = 0
    for index, report in enumerate(reports):
        if report.report_id in known:
            log.info("report_already_routed", report_id=str(report.report_id))
            duplicates += 1
            continue
        known.add(report.report_id)
        todo.setdefault((report.subject.id, report.policy_area), []).append(index)
    plans: dict[Pair, _Plan] = {}
    pending = list(todo)
    for _ in range(_ROUNDS):
        if not pending:
            break
        round_plans = await _plan_round(ctx, session, reports, todo, pending, now, scopes)
        opened = await report_store.insert_open_cases(
            session, [_insert_values(p) for p in round_plans.values() if p.opens])
        await report_store.update_cases(
            session, [_update_values(p) for p in round_plans.values() if not p.opens])
        # A case that another transaction opened first: plan its reports again, to join it.
        pending = [pair for pair, plan in round_plans.items()
                   if plan.opens and plan.case.id not in opened]
        plans.update({pair: plan for pair, plan in round_plans.items() if pair not in pending})
    if pending:
        raise TransientError(f"the open case on subject {pending[0][0]!r} kept changing")
    await _store(ctx, session, list(plans.values()), duplicates)
    cases: list[SimpleNamespace | None] = [None] * len(reports)
    for pair, indexes in todo.items():
        for index in indexes:
            cases[index] = plans[pair].case
    return cases


async def _plan_round(ctx: Routing, session: AsyncSession, reports: list[ReportNormalizedV1],
                      todo: dict[Pair, list[int]], pairs: list[Pair], now: datetime,
                      scopes: list[Scope] | None) -> dict[Pair, _Plan]:
    open_cases = await report_store.lock_open_cases(session, pairs)
    previous = await report_store.latest_cases(
        session, [pair for pair in pairs if pair not in open_cases])
    asked = {(case.id, key) for pair, case in open_cases.items() for index in todo[pair]
             if (key := domain.reporter_key(reports[index])) is not None}
    seen: dict[uuid.UUID, set[str | None]] = {}
    for case_id, key in await report_store.seen_reporters(session, sorted(asked)):
        seen.setdefault(case_id, set()).add(key)
    limit = ctx.settings.routed_event_max_report_ids
    firsts = await report_store.first_reports(session, [c.id for c in open_cases.values()],
                                              limit)
    plans = {}
    for pair in pairs:
        existing = open_cases.get(pair)
        plan = _Plan(case=SimpleNamespace(**existing._mapping), opens=False) \
            if existing is not None else None
        keys = set(seen.get(existing.id, ())) if existing is not None else set()
        ordered = list(firsts.get(existing.id, [])) if existing is not None else []
        for index in todo[pair]:
            report = reports[index]
            scope = scopes[index] if scopes else nullcontext
            if plan is None:
                plan = _opening(ctx, report, previous.get(pair), now)
                reason, detail = domain.OPENED, plan.history[-1]["detail"]
            else:
                reason, detail = _joining(ctx, plan, report, keys, now)
            keys.add(domain.reporter_key(report))
            ordered = sorted([*ordered, (domain.as_utc(report.received_at), report.report_id)])
            ordered = ordered[:limit]
            report_ids = [report.report_id] if reason == domain.OPENED \
                else [report_id for _, report_id in ordered]
            payload = routed_payload(ctx, plan.case, reason=reason, detail=detail, now=now,
                                     report_ids=report_ids)
            key = plan.case.subject_id
            with scope():
                event = ctx.outbox.event(type=CASE_ROUTED_V1, key=key, payload=payload,
                                         subject=str(plan.case.id))
            plan.events.append((index, event, key))
            plan.routed.append((plan.case.queue, reason))
        plans[pair] = plan
    return plans


def _opening(ctx: Routing, report: ReportNormalizedV1, previous: uuid.UUID | None,
             now: datetime) -> _Plan:
    loaded = ctx.policy
    placement = domain.place_report(loaded.policy, report)
    state = domain.open_case(loaded.policy, placement, report, now)
    case = SimpleNamespace(
        id=uuid.uuid4(), subject_id=report.subject.id,
        subject=report.subject.model_dump(mode="json", exclude_none=True),
        policy_area=report.policy_area, status=OPEN, stage=REVIEW,
        **persistence.state_values(state), previous_case_id=previous, opened_at=now,
        queued_at=now, updated_at=now, excluded_reviewer_id=None, appeal_id=None,
        assignee_id=None, lease_expires_at=None)
    detail = f"rule {placement.rule_id} of policy {loaded.version}"
    if previous is not None:
        detail += f"; follows case {previous}"
    plan = _Plan(case=case, opens=True)
    _add(plan, report, placement, domain.OPENED, detail, now)
    return plan


def _joining(ctx: Routing, plan: _Plan, report: ReportNormalizedV1, keys: set[str | None],
             now: datetime) -> tuple[str, str | None]:
    policy = ctx.policy.policy
    placement = domain.place_report(policy, report)
    key = domain.reporter_key(report)
    change = domain.join_case(policy, persistence.state_of(plan.case), placement, report,
                              new_reporter=key is None or key not in keys, now=now)
    case = plan.case
    for column, value in persistence.state_values(change.state).items():
        setattr(case, column, value)
    case.updated_at = now
    if change.queue_changed:
        # The case now needs other skills; whoever holds it may not have them.
        case.queued_at, case.assignee_id, case.lease_expires_at = now, None, None
    detail = f"report {report.report_id} ({report.channel.value}, {report.category})"
    if change.detail:
        detail += f": {change.detail}"
    _add(plan, report, placement, change.reason, detail, now)
    return change.reason, change.detail


def _add(plan: _Plan, report: ReportNormalizedV1, placement: domain.Placement, action: str,
         detail: str, now: datetime) -> None:
    case = plan.case
    plan.reports.append({
        "report_id": report.report_id, "case_id": case.id, "channel": report.channel.value,
        "category": report.category, "reporter_key": domain.reporter_key(report),
        "rule_id": placement.rule_id, "received_at": report.received_at, "joined_at": now,
        "legal_deadline": placement.legal_deadline, "report": report.model_dump(mode="json")})
    plan.history.append({
        "case_id": case.id, "at": now, "action": action, "actor": persistence.SYSTEM,
        "queue": case.queue, "priority": case.priority, "due_at": case.due_at,
        "detail": detail})


def _insert_values(plan: _Plan) -> dict[str, Any]:
    case = vars(plan.case)
    return {column: case[column] for column in report_store.INSERTED_COLUMNS}


def _update_values(plan: _Plan) -> dict[str, Any]:
    case = vars(plan.case)
    return {"case_id": case["id"], **{column: case[column] for column in CHANGED_COLUMNS}}


async def _store(ctx: Routing, session: AsyncSession, plans: list[_Plan],
                 duplicates: int) -> None:
    await report_store.insert_reports(session, [r for p in plans for r in p.reports])
    await report_store.insert_history(session, [h for p in plans for h in p.history])
    # In the order of the reports: per subject, the order they were routed in.
    events = sorted((e for p in plans for e in p.events), key=lambda item: item[0])
    await ctx.outbox.stage_many(session, [(event, key) for _, event, key in events])
    routed = Counter("opened" if reason == domain.OPENED else "joined"
                     for p in plans for _, reason in p.routed)
    routed["duplicate"] += duplicates
    cases = Counter(routed_as for p in plans for routed_as in p.routed)

    def count() -> None:
        for outcome, n in routed.items():
            if n:
                metrics.REPORTS_ROUTED.labels(outcome).inc(n)
        for (queue, reason), n in cases.items():
            metrics.CASES_ROUTED.labels(queue, reason).inc(n)
    after_commit(session, count)
