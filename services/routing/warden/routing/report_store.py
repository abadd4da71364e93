"""Set-based reads and writes for routing a run of reports (the hot path).

Routing a run of reports costs a fixed handful of statements whatever its length: which
reports are known, the open cases of the run's subjects (locked), the latest earlier case of
the subjects without one, which reporters those cases have seen, their first report ids, then
one multi-row statement each for new cases, changed cases, case reports and history rows.
Statements are Core, built once with bound (expanding) parameters; nothing goes through the
ORM's unit of work or identity map.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import distinct_on
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing.models import ONE_OPEN_CASE_WHERE, OPEN, REVIEW, Case, CaseHistory, CaseReport
from warden.shared.db import ArrayInsert

_cases = Case.__table__
_reports = CaseReport.__table__
_history = CaseHistory.__table__

Pair = tuple[str, str]  # (subject id, policy area): what one open case gathers

# Arrays, not expanding IN lists: one SQL text whatever the run's length, so PostgreSQL and
# asyncpg prepare each statement once.
_UUIDS = sa.ARRAY(PG_UUID(as_uuid=True))
_TEXTS = sa.ARRAY(sa.Text)
_KNOWN = sa.select(_reports.c.report_id).where(
    _reports.c.report_id == sa.func.any_(sa.bindparam("ids", type_=_UUIDS)))
_pairs = (sa.func.unnest(sa.bindparam("subjects", type_=_TEXTS),
                         sa.bindparam("areas", type_=_TEXTS))
          .table_valued("subject_id", "policy_area").render_derived())
# ``subject_id = ANY`` beside the pairs: an index scan on the run's subjects whatever the
# planner believes of the table. Without it, statistics older than the table's growth (a
# burst of new cases before autovacuum analysed them) made PostgreSQL scan every open case
# once per pair: 380 ms per run of 100 reports at 9,000 cases.
_IN_PAIRS = sa.and_(
    _cases.c.subject_id == sa.func.any_(sa.bindparam("subjects", type_=_TEXTS)),
    sa.tuple_(_cases.c.subject_id, _cases.c.policy_area).in_(
        sa.select(_pairs.c.subject_id, _pairs.c.policy_area)))
# Locked in one order (by id), so two runs that share subjects cannot deadlock here.
_LOCK_OPEN = (
    sa.select(_cases)
    .where(_IN_PAIRS, _cases.c.status == OPEN, _cases.c.stage == REVIEW)
    .order_by(_cases.c.id)
    .with_for_update())
_LATEST = (
    sa.select(_cases.c.subject_id, _cases.c.policy_area, _cases.c.id)
    .where(_IN_PAIRS)
    .ext(distinct_on(_cases.c.subject_id, _cases.c.policy_area))
    .order_by(_cases.c.subject_id, _cases.c.policy_area, _cases.c.opened_at.desc()))
_asked = (sa.func.unnest(sa.bindparam("case_ids", type_=_UUIDS),
                         sa.bindparam("keys", type_=_TEXTS))
          .table_valued("case_id", "reporter_key").render_derived())
_SEEN = (
    sa.select(_reports.c.case_id, _reports.c.reporter_key).distinct()
    .where(_reports.c.case_id == sa.func.any_(sa.bindparam("case_ids", type_=_UUIDS)),
           sa.tuple_(_reports.c.case_id, _reports.c.reporter_key)
           .in_(sa.select(_asked.c.case_id, _asked.c.reporter_key))))
_ranked = (
    sa.select(_reports.c.case_id, _reports.c.report_id, _reports.c.received_at,
              sa.func.row_number().over(
                  partition_by=_reports.c.case_id,
                  order_by=(_reports.c.received_at, _reports.c.report_id)).label("n"))
    .where(_reports.c.case_id == sa.func.any_(sa.bindparam("case_ids", type_=_UUIDS)))
    .subquery())
_FIRST_REPORTS = (
    sa.select(_ranked.c.case_id, _ranked.c.report_id, _ranked.c.received_at)
    .where(_ranked.c.n <= sa.bindparam("limit"))
    .order_by(_ranked.c.case_id, _ranked.c.n))
# What a case is opened with.
INSERTED_COLUMNS = (
    "id", "subject_id", "subject", "policy_area", "status", "stage", "previous_case_id",
    "opened_at", "queued_at", "updated_at", "queue", "rule_id", "policy_version", "category",
    "severity", "base_priority", "priority", "due_at", "legal_deadline", "channels",
    "report_count", "reporter_count", "priority_handling", "priority_review_at")
_INSERT_CASES = ArrayInsert(
    _cases, INSERTED_COLUMNS, returning=("id",),
    then=f"ON CONFLICT (subject_id, policy_area) WHERE {ONE_OPEN_CASE_WHERE.text} DO NOTHING")
# What routing a report changes in an open case (the lease columns only when its queue changed,
# but always bound, so that one executemany statement serves every case of the run).
CHANGED_COLUMNS = (
    "queue", "rule_id", "policy_version", "category", "severity", "base_priority", "priority",
    "due_at", "legal_deadline", "channels", "report_count", "reporter_count",
    "priority_handling", "priority_review_at", "updated_at", "queued_at", "assignee_id",
    "lease_expires_at")
_UPDATE_CASES = (
    sa.update(_cases).where(_cases.c.id == sa.bindparam("case_id"))
    .values({column: sa.bindparam(column) for column in CHANGED_COLUMNS}))
# One statement per run each (their rows in the run's order: history rows are numbered so).
_INSERT_REPORTS = ArrayInsert(_reports, [
    "report_id", "case_id", "channel", "category", "reporter_key", "rule_id", "received_at",
    "joined_at", "legal_deadline", "report"])
_INSERT_HISTORY = ArrayInsert(_history, [
    "case_id", "at", "action", "actor", "queue", "priority", "due_at", "detail"])


def _pair_arrays(pairs: list[Pair]) -> dict[str, list[str]]:
    return {"subjects": [s for s, _ in pairs], "areas": [a for _, a in pairs]}


async def known_reports(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return set((await session.scalars(_KNOWN, {"ids": ids})).all())


async def lock_open_cases(session: AsyncSession, pairs: list[Pair]) -> dict[Pair, sa.Row]:
    """The open first-instance cases on these subjects and areas, locked for this transaction."""
    rows = (await session.execute(_LOCK_OPEN, _pair_arrays(pairs))).all()
    return {(row.subject_id, row.policy_area): row for row in rows}


async def latest_cases(session: AsyncSession, pairs: list[Pair]) -> dict[Pair, uuid.UUID]:
    """The most recent earlier case on each subject and area (a new case links to it)."""
    if not pairs:
        return {}
    rows = (await session.execute(_LATEST, _pair_arrays(pairs))).all()
    return {(row.subject_id, row.policy_area): row.id for row in rows}


async def seen_reporters(session: AsyncSession,
                         pairs: list[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """Which of these (case, reporter key) pairs already have a report in the case."""
    if not pairs:
        return set()
    rows = (await session.execute(_SEEN, {"case_ids": [c for c, _ in pairs],
                                          "keys": [k for _, k in pairs]})).all()
    return {(row.case_id, row.reporter_key) for row in rows}


async def first_reports(session: AsyncSession, case_ids: list[uuid.UUID],
                        limit: int) -> dict[uuid.UUID, list[tuple[Any, uuid.UUID]]]:
    """Per case, its first ``limit`` reports as (received at, report id), in that order."""
    found: dict[uuid.UUID, list[tuple[Any, uuid.UUID]]] = {c: [] for c in case_ids}
    if not case_ids:
        return found
    rows = await session.execute(_FIRST_REPORTS, {"case_ids": case_ids, "limit": limit})
    for row in rows:
        found[row.case_id].append((row.received_at, row.report_id))
    return found


async def insert_open_cases(session: AsyncSession,
                            values: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Open these cases, each unless another transaction holds the open one on its subject
    and area (``ON CONFLICT`` waits for that one to commit, then yields); the ids inserted."""
    if not values:
        return set()
    return {row[0] for row in await _INSERT_CASES.execute(session, values)}


async def update_cases(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Write the new state of locked cases (``case_id`` plus every ``CHANGED_COLUMNS``)."""
    if values:
        await session.execute(_UPDATE_CASES, values)


async def insert_reports(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Link reports to their cases (the primary key makes a report join only one case)."""
    await _INSERT_REPORTS.execute(session, values)


async def insert_history(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    await _INSERT_HISTORY.execute(session, values)
