"""Reads and writes of the routing service's tables.

Concurrency lives here, in the database: the partial unique index makes "one open case per
subject and policy area" hold under any number of consumers, row locks serialise changes to
one case, and ``FOR UPDATE SKIP LOCKED`` lets many reviewers claim from one queue at once
without ever taking the same case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing.domain import CaseState, LeaseView
from warden.routing.models import (
    ONE_OPEN_CASE_WHERE,
    OPEN,
    REVIEW,
    Case,
    CaseHistory,
    CaseReport,
)
from warden.shared.contracts.events import Channel, ReportNormalizedV1

SYSTEM = "system"

_cases = Case.__table__
_reports = CaseReport.__table__
_history = CaseHistory.__table__


def state_of(case: Case | sa.Row) -> CaseState:
    return CaseState(
        queue=case.queue, rule_id=case.rule_id, policy_version=case.policy_version,
        category=case.category, severity=case.severity, base_priority=case.base_priority,
        priority=case.priority, due_at=case.due_at, legal_deadline=case.legal_deadline,
        channels=tuple(Channel(c) for c in case.channels), report_count=case.report_count,
        reporters=case.reporter_count, priority_handling=case.priority_handling,
        priority_review_at=case.priority_review_at)


def lease_of(case: Case) -> LeaseView:
    return LeaseView(assignee_id=case.assignee_id, lease_expires_at=case.lease_expires_at)


def state_values(state: CaseState) -> dict[str, Any]:
    """The columns a ``CaseState`` maps to."""
    return {
        "queue": state.queue, "rule_id": state.rule_id, "policy_version": state.policy_version,
        "category": state.category, "severity": state.severity,
        "base_priority": state.base_priority, "priority": state.priority,
        "due_at": state.due_at, "legal_deadline": state.legal_deadline,
        "channels": [c.value for c in state.channels], "report_count": state.report_count,
        "reporter_count": state.reporters, "priority_handling": state.priority_handling,
        "priority_review_at": state.priority_review_at,
    }


def apply_state(case: Case, state: CaseState, now: datetime) -> None:
    if state.queue != case.queue:
        case.queued_at = now
    for column, value in state_values(state).items():
        setattr(case, column, value)
    case.updated_at = now


def clear_lease(case: Case) -> None:
    case.assignee_id = None
    case.lease_expires_at = None


# --- cases and their reports -----------------------------------------------------------------
# Routing reports, the hot path, has its own set-based statements (``report_store``); these
# serve the other use cases. Core statements built once with bound parameters, so that each
# execution only binds values.

_INSERT_OPEN_CASE = (
    insert(_cases)
    .on_conflict_do_nothing(index_elements=["subject_id", "policy_area"],
                            index_where=ONE_OPEN_CASE_WHERE)
    .returning(*_cases.c))
_REPORT_IDS = (
    sa.select(_reports.c.report_id).where(_reports.c.case_id == sa.bindparam("case_id"))
    .order_by(_reports.c.received_at, _reports.c.report_id).limit(sa.bindparam("limit")))
_INSERT_HISTORY = sa.insert(_history)


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    return (await session.exec(select(Case).where(Case.id == case_id).with_for_update())).first()


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    return await session.get(Case, case_id)


async def insert_open_case(session: AsyncSession, *, report: ReportNormalizedV1,
                           state: CaseState, previous_case_id: uuid.UUID | None,
                           now: datetime) -> sa.Row | None:
    """Open a case unless another transaction holds the open one (then ``None``: join it).

    ``ON CONFLICT`` on the partial unique index waits for a concurrent opener to commit and
    then yields, so racing consumers end up with exactly one case.
    """
    values = {
        "id": uuid.uuid4(), "subject_id": report.subject.id,
        "subject": report.subject.model_dump(mode="json", exclude_none=True),
        "policy_area": report.policy_area, "status": OPEN, "stage": REVIEW,
        **state_values(state), "previous_case_id": previous_case_id,
        "opened_at": now, "queued_at": now, "updated_at": now,
    }
    return (await session.execute(_INSERT_OPEN_CASE, values)).first()


async def report_ids(session: AsyncSession, case_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    return list((await session.scalars(_REPORT_IDS, {"case_id": case_id, "limit": limit})).all())


async def reports_joined_after(session: AsyncSession, case_id: uuid.UUID,
                               moment: datetime) -> list[ReportNormalizedV1]:
    rows = (await session.execute(
        sa.select(_reports.c.report).where(_reports.c.case_id == case_id,
                                           _reports.c.joined_at > moment)
        .order_by(_reports.c.joined_at, _reports.c.report_id))).scalars().all()
    return [ReportNormalizedV1.model_validate(row) for row in rows]


async def move_reports(session: AsyncSession, report_ids: list[uuid.UUID],
                       to_case_id: uuid.UUID) -> None:
    await session.execute(sa.update(_reports).where(_reports.c.report_id.in_(report_ids))
                          .values(case_id=to_case_id))


async def count_reports(session: AsyncSession, case_id: uuid.UUID) -> tuple[int, int]:
    """(reports, reporters) of a case, counted the way routing counts them as they join."""
    row = (await session.execute(
        sa.select(sa.func.count(),
                  sa.func.count(sa.distinct(_reports.c.reporter_key))
                  + sa.func.count().filter(_reports.c.reporter_key.is_(None)))
        .where(_reports.c.case_id == case_id))).one()
    return row[0], row[1]


async def reports_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseReport]:
    return list((await session.exec(
        select(CaseReport).where(CaseReport.case_id == case_id)
        .order_by(CaseReport.received_at, CaseReport.report_id))).all())


async def record_history(session: AsyncSession, case: Case | sa.Row, action: str, *,
                         actor: str = SYSTEM, detail: str | None = None, at: datetime) -> None:
    await session.execute(_INSERT_HISTORY, {
        "case_id": case.id, "at": at, "action": action, "actor": actor, "queue": case.queue,
        "priority": case.priority, "due_at": case.due_at, "detail": detail})


async def history_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseHistory]:
    return list((await session.exec(
        select(CaseHistory).where(CaseHistory.case_id == case_id)
        .order_by(CaseHistory.seq))).all())


# --- queues and leases -----------------------------------------------------------------------

_DATABASE_NOW = sa.select(sa.func.now())


async def database_now(session: AsyncSession) -> datetime:
    """The database's clock (its transaction time): leases are granted and judged by it, so
    instances on hosts whose clocks disagree agree on whether a lease is live."""
    return await session.scalar(_DATABASE_NOW)


async def lock_next_claimable(session: AsyncSession, queue: str,
                              reviewer_id: str) -> Case | None:
    """The next case for this reviewer: highest priority, then earliest due, then oldest.

    Unleased cases and cases whose lease has run out (returned lazily, here) are claimable;
    an appeal is never offered to the reviewer who made the decision under appeal. Rows
    another claimer has locked are skipped, not waited for.
    """
    return (await session.exec(
        select(Case)
        .where(Case.queue == queue, Case.status == OPEN,
               sa.or_(Case.assignee_id.is_(None), Case.lease_expires_at <= sa.func.now()),
               sa.or_(Case.excluded_reviewer_id.is_(None),
                      Case.excluded_reviewer_id != reviewer_id))
        .order_by(Case.priority.desc(), Case.due_at, Case.opened_at, Case.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )).first()


async def lock_expired_leases(session: AsyncSession, limit: int) -> list[Case]:
    """Leased cases whose lease ran out by the database's clock."""
    return list((await session.exec(
        select(Case)
        .where(Case.assignee_id.is_not(None), Case.lease_expires_at <= sa.func.now())
        .order_by(Case.lease_expires_at).limit(limit)
        .with_for_update(skip_locked=True))).all())


@dataclass(frozen=True)
class QueueFigures:
    depth: int = 0
    waiting: int = 0
    in_review: int = 0
    oldest_queued_at: datetime | None = None
    due_within_hour: int = 0
    overdue: int = 0
    at_risk: int = 0


async def queue_figures(session: AsyncSession, now: datetime,
                        at_risk_margin: timedelta) -> dict[str, QueueFigures]:
    """Per queue, in one scan of the open cases (leases judged by the database's clock)."""
    leased = sa.and_(_cases.c.assignee_id.is_not(None),
                     _cases.c.lease_expires_at > sa.func.now())
    rows = (await session.execute(
        sa.select(
            _cases.c.queue,
            sa.func.count().label("depth"),
            sa.func.count().filter(leased).label("in_review"),
            sa.func.min(_cases.c.queued_at).label("oldest"),
            sa.func.count().filter(sa.and_(_cases.c.due_at > now,
                                           _cases.c.due_at <= now + timedelta(hours=1)))
            .label("due_within_hour"),
            sa.func.count().filter(_cases.c.due_at <= now).label("overdue"),
            sa.func.count().filter(sa.and_(_cases.c.due_at > now,
                                           _cases.c.due_at <= now + at_risk_margin))
            .label("at_risk"),
        ).where(_cases.c.status == OPEN).group_by(_cases.c.queue))).all()
    return {row.queue: QueueFigures(depth=row.depth, waiting=row.depth - row.in_review,
                                    in_review=row.in_review, oldest_queued_at=row.oldest,
                                    due_within_hour=row.due_within_hour, overdue=row.overdue,
                                    at_risk=row.at_risk)
            for row in rows}


@dataclass(frozen=True)
class PageKey:
    """Keyset position in a queue listing (stable while the queue changes under the reader)."""

    priority: int
    due_at: datetime
    case_id: uuid.UUID


async def page_of_queue(session: AsyncSession, queue: str, *, after: PageKey | None,
                        limit: int) -> list[Case]:
    statement = select(Case).where(Case.queue == queue, Case.status == OPEN)
    if after is not None:
        statement = statement.where(sa.or_(
            Case.priority < after.priority,
            sa.and_(Case.priority == after.priority, Case.due_at > after.due_at),
            sa.and_(Case.priority == after.priority, Case.due_at == after.due_at,
                    Case.id > after.case_id)))
    statement = statement.order_by(Case.priority.desc(), Case.due_at, Case.id).limit(limit)
    return list((await session.exec(statement)).all())


# --- the SLA watcher's work lists --------------------------------------------------------------

async def lock_needing_sla_event(session: AsyncSession, state: str, now: datetime,
                                 at_risk_margin: timedelta, limit: int) -> list[Case]:
    """Open cases that crossed into ``state`` for a due time not yet announced."""
    if state == "overdue":
        condition = sa.and_(Case.due_at <= now,
                            Case.sla_overdue_for.is_distinct_from(Case.due_at))
    else:
        condition = sa.and_(Case.due_at > now, Case.due_at <= now + at_risk_margin,
                            Case.sla_at_risk_for.is_distinct_from(Case.due_at))
    return list((await session.exec(
        select(Case).where(Case.status == OPEN, condition)
        .order_by(Case.due_at).limit(limit).with_for_update(skip_locked=True))).all())


async def lock_due_for_priority_review(session: AsyncSession, now: datetime,
                                       limit: int) -> list[Case]:
    """Open cases whose closeness to the due time now weighs more in their priority."""
    return list((await session.exec(
        select(Case).where(Case.status == OPEN, Case.priority_review_at <= now)
        .order_by(Case.priority_review_at).limit(limit)
        .with_for_update(skip_locked=True))).all())
