"""Reads and writes of the intake service's report table."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.intake.models import Report
from warden.shared.bus.outbox import KEY_LOCK_SPACE, stage_from
from warden.shared.contracts.events import (
    DECISION_RECORDED_V1,
    DECISION_RECORDED_V2,
    CaseRoutedV1,
    DecisionRecordedV1,
    NotificationDeliveredV1,
    ReportNormalizedV1,
)

_reports = Report.__table__


@dataclass(slots=True)
class NewReport:
    """A report about to be inserted, read like a ``Report`` row (nothing downstream yet).

    A plain object on purpose: building a SQLModel table instance costs more (≈ 0.4 ms,
    validation and ORM instrumentation) than the whole insert, and the statement below binds
    plain values anyway."""

    id: uuid.UUID
    client_id: uuid.UUID
    channel: str
    external_id: str | None
    idempotency_key: str | None
    request_fingerprint: str
    subject_id: str
    received_at: datetime
    normalized: dict[str, Any] | str
    case_id: uuid.UUID | None = None
    queue: str | None = None
    routed_at: datetime | None = None
    decision_id: uuid.UUID | None = None
    action: str | None = None
    decided_at: datetime | None = None
    notified_at: datetime | None = None


def new_report_row(report: ReportNormalizedV1, *, idempotency_key: str | None,
                   fingerprint: str, encoded: bool = False) -> NewReport:
    """``encoded``: ``normalized`` as its JSON text (for :func:`insert_report_raw`, which binds
    it as it is), else as a dict (for the SQLAlchemy statement, which encodes it)."""
    return NewReport(id=report.report_id, client_id=uuid.UUID(report.client_id),
                     channel=report.channel.value, external_id=report.external_id,
                     idempotency_key=idempotency_key, request_fingerprint=fingerprint,
                     subject_id=report.subject.id, received_at=report.received_at,
                     normalized=(report.model_dump_json() if encoded
                                 else report.model_dump(mode="json")))


_INSERTED_COLUMNS = ("id", "client_id", "channel", "external_id", "idempotency_key",
                     "request_fingerprint", "subject_id", "received_at", "normalized")


def _insert_with_event() -> sa.Select:
    """One statement: insert the report unless it is known, and stage its event in the outbox
    exactly when the insert happened. Built once; each submission only binds its values."""
    new_report = (insert(_reports)
                  .values({c: sa.bindparam(c, type_=_reports.c[c].type)
                           for c in _INSERTED_COLUMNS})
                  .on_conflict_do_nothing().returning(_reports.c.id).cte("new_report"))
    staged = stage_from(new_report)
    return sa.select(sa.select(sa.func.count()).select_from(new_report).scalar_subquery()
                     .label("inserted"),
                     sa.select(sa.func.count()).select_from(staged).scalar_subquery()
                     .label("staged"))


_INSERT_WITH_EVENT = _insert_with_event()


async def insert_report(session: AsyncSession, row: NewReport,
                        event: dict[str, Any]) -> bool:
    """Insert unless a report with the same idempotency key or external id exists, and with
    it stage ``event`` (an ``Outbox.row``); False, with nothing written, for a known report.

    ON CONFLICT DO NOTHING makes a concurrent resend wait for the first insert's
    transaction and then see a conflict, so exactly one of them inserts. One statement, so
    that a single report can be accepted in one round trip to the database.
    """
    values = {c: getattr(row, c) for c in _INSERTED_COLUMNS}
    values.update({f"event_{k}": v for k, v in event.items()})
    inserted, staged = (await session.execute(_INSERT_WITH_EVENT, values)).one()
    if inserted != staged:
        raise AssertionError("a report was stored without its event")  # cannot happen: one CTE
    return inserted == 1


def _for_asyncpg(statement: sa.Executable) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The statement as asyncpg takes it: its SQL text (``$n`` parameters), the names of its
    parameters in order, and the values SQLAlchemy bound itself (constants)."""
    compiled = statement.compile(dialect=asyncpg_dialect.dialect())
    return compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params)


_RAW_SQL, _RAW_ORDER, _RAW_CONSTANTS = _for_asyncpg(_INSERT_WITH_EVENT)
_JSON_PARAMETERS = frozenset({"normalized", "event_headers"})


async def insert_report_raw(connection: asyncpg.Connection, row: NewReport,
                            event: dict[str, Any]) -> bool:
    """:func:`insert_report`'s statement on a plain asyncpg connection, outside any
    transaction: the statement is its own, committed (durably) when this returns. No session,
    no ORM, no greenlet hop: the single-report HTTP path's one round trip.

    ``row.normalized`` is its JSON text (``new_report_row(.., encoded=True)``)."""
    values = dict(_RAW_CONSTANTS)
    values.update({c: getattr(row, c) for c in _INSERTED_COLUMNS})
    values.update({f"event_{k}": v for k, v in event.items()})
    for name in _JSON_PARAMETERS:
        if not isinstance(values[name], str):
            values[name] = json.dumps(values[name])
    inserted, staged = await connection.fetchrow(_RAW_SQL, *(values[n] for n in _RAW_ORDER))
    if inserted != staged:
        raise AssertionError("a report was stored without its event")  # cannot happen: one CTE
    return inserted == 1


# Many reports in one statement (the group commit of concurrent submissions): the same
# insert-unless-known and the same staging as ``_INSERT_WITH_EVENT``, for arrays of values.
# The keys' locks come first, all of them, in the order of their lock ids (as
# ``Outbox.stage_many`` takes them), so two such statements never wait for each other in a
# circle; then the reports and their events, in the order given (``seq`` follows it, so one
# subject's events keep their order within the statement too).
_REPORT_COLUMNS = (("id", "uuid"), ("client_id", "uuid"), ("channel", "text"),
                   ("external_id", "text"), ("idempotency_key", "text"),
                   ("request_fingerprint", "text"), ("subject_id", "text"),
                   ("received_at", "timestamptz"), ("normalized", "jsonb"))
_EVENT_COLUMNS = (("event_id", "text"), ("topic", "text"), ("key", "text"),
                  ("value", "bytea"), ("headers", "jsonb"))
_arrays = [*_REPORT_COLUMNS, *[(f"event_{c}", t) for c, t in _EVENT_COLUMNS]]
_ARRAY_NAMES = [c for c, _ in _arrays]
_INSERT_MANY_SQL = f"""
    WITH locked AS (
        SELECT count(*) FROM (
            SELECT pg_advisory_xact_lock({KEY_LOCK_SPACE}, h) FROM (
                SELECT DISTINCT hashtext(k) AS h
                FROM unnest(${_ARRAY_NAMES.index("event_key") + 1}::text[]) AS k
                ORDER BY h OFFSET 0) AS ordered) AS each_key),
    input AS (
        SELECT given.* FROM locked, unnest({", ".join(
            f"${n}::{t}[]" for n, (_, t) in enumerate(_arrays, start=1))})
            WITH ORDINALITY AS given({", ".join(_ARRAY_NAMES)}, n)),
    new_report AS (
        INSERT INTO reports ({", ".join(c for c, _ in _REPORT_COLUMNS)})
        SELECT {", ".join(c for c, _ in _REPORT_COLUMNS)} FROM input ORDER BY n
        ON CONFLICT DO NOTHING RETURNING id),
    staged AS (
        INSERT INTO outbox ({", ".join(c for c, _ in _EVENT_COLUMNS)})
        SELECT {", ".join(f"event_{c}" for c, _ in _EVENT_COLUMNS)} FROM input
        WHERE id IN (SELECT id FROM new_report) ORDER BY n
        RETURNING seq)
    SELECT (SELECT array_agg(id) FROM new_report) AS inserted,
           (SELECT count(*) FROM staged) AS staged"""


# The arrays bound as JSON text, the same parameters as the single statement's.
_JSON_ARRAYS = [i for i, name in enumerate(_ARRAY_NAMES) if name in _JSON_PARAMETERS]


async def insert_reports_raw(connection: asyncpg.Connection,
                             items: list[tuple[NewReport, dict[str, Any]]]) -> set[uuid.UUID]:
    """:func:`insert_report_raw` for many reports in one autocommitted statement: the ids of
    those inserted (with their events staged); the others were known already."""
    columns: list[list[Any]] = [[] for _ in _arrays]
    for row, event in items:
        values = [getattr(row, c) for c, _ in _REPORT_COLUMNS]
        values += [event[c] for c, _ in _EVENT_COLUMNS]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    for index in _JSON_ARRAYS:
        columns[index] = [v if isinstance(v, str) else json.dumps(v) for v in columns[index]]
    inserted, staged = await connection.fetchrow(_INSERT_MANY_SQL, *columns)
    inserted = set(inserted or ())
    if len(inserted) != staged:
        raise AssertionError("a report was stored without its event")  # cannot happen
    return inserted


async def find_by_idempotency_key(session: AsyncSession, client_id: uuid.UUID,
                                  key: str) -> Report | None:
    return (await session.exec(select(Report).where(
        Report.client_id == client_id, Report.idempotency_key == key))).first()


async def find_by_external_id(session: AsyncSession, client_id: uuid.UUID, channel: str,
                              external_id: str) -> Report | None:
    return (await session.exec(select(Report).where(
        Report.client_id == client_id, Report.channel == channel,
        Report.external_id == external_id))).first()


async def get_report(session: AsyncSession, report_id: uuid.UUID,
                     client_id: uuid.UUID) -> Report | None:
    """The report if it belongs to this client (another client's report is 'not found')."""
    return (await session.exec(select(Report).where(
        Report.id == report_id, Report.client_id == client_id))).first()


# --- downstream status --------------------------------------------------------------------
# Each update keeps the latest fact by its own timestamp, so a late or redelivered event
# never rolls a report back; stages from different topics are independent columns.

class _Facts(NamedTuple):
    statement: sa.TextClause
    names: tuple[str, ...]  # of its array parameters, in the order of a row's values


def _latest_facts(columns: tuple[tuple[str, str], ...], at: str) -> _Facts:
    """One statement for a run of events: each report takes its latest fact of the run (by
    ``at``, then by its place in the run), and only if newer than the one it has. Arrays,
    one per column (``report_id`` first), so the text is the same whatever the run's length."""
    names = tuple(name for name, _ in columns)
    arrays = ", ".join(f"CAST(:{name} AS {pg_type}[])" for name, pg_type in columns)
    updates = ", ".join(f"{name} = latest.{name}" for name in names[1:])
    return _Facts(sa.text(f"""
        UPDATE reports SET {updates}
        FROM (SELECT DISTINCT ON (report_id) {", ".join(names)}
              FROM unnest({arrays}) WITH ORDINALITY AS run({", ".join(names)}, n)
              ORDER BY report_id, {at} DESC, n DESC) AS latest
        WHERE reports.id = latest.report_id
          AND (reports.{at} IS NULL OR reports.{at} <= latest.{at})"""), names)


_ROUTINGS = _latest_facts((("report_id", "uuid"), ("case_id", "uuid"), ("queue", "text"),
                           ("routed_at", "timestamptz")), at="routed_at")
_DECISIONS = _latest_facts((("report_id", "uuid"), ("decision_id", "uuid"),
                            ("action", "text"), ("decided_at", "timestamptz")), at="decided_at")
_NOTIFIED = _latest_facts((("report_id", "uuid"), ("notified_at", "timestamptz")),
                          at="notified_at")


async def _record(session: AsyncSession, facts: _Facts, rows: list[tuple]) -> int:
    if not rows:
        return 0
    columns = map(list, zip(*rows))
    return (await session.execute(facts.statement, dict(zip(facts.names, columns)))).rowcount


async def record_routings(session: AsyncSession, routings: list[CaseRoutedV1]) -> int:
    """Each report named by these events (a run, in order) as routed by the latest of them."""
    return await _record(session, _ROUTINGS, [
        (report_id, routed.case_id, routed.queue, routed.routed_at)
        for routed in routings for report_id in routed.report_ids])


async def record_decisions(session: AsyncSession, decisions: list[DecisionRecordedV1]) -> int:
    return await _record(session, _DECISIONS, [
        (report_id, d.decision_id, d.action, d.decided_at)
        for d in decisions for report_id in d.report_ids])


def tells_the_outcome(delivered: NotificationDeliveredV1) -> bool:
    """Only a delivered notification about a decision makes a report 'notified'.

    Receipts and failed deliveries do not: the reporter has not been told the outcome.
    """
    return (delivered.status == "delivered"
            and delivered.source_event_type in (DECISION_RECORDED_V1, DECISION_RECORDED_V2)
            and delivered.audience in (None, "reporter"))


async def record_notifications(session: AsyncSession,
                               deliveries: list[NotificationDeliveredV1]) -> int:
    return await _record(session, _NOTIFIED, [
        (report_id, d.finished_at)
        for d in deliveries if tells_the_outcome(d) for report_id in d.report_ids])
