"""What notify remembers of reports (the reporter's side, where they were routed) and the
decisions that wait for a report not seen yet."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.models import AwaitedReport, KnownReport
from warden.shared.contracts.envelope import CloudEvent


async def remember_reports(session: AsyncSession, values: list[dict]) -> dict[uuid.UUID, Any]:
    """Upsert the reporter's side of reports (one report once, rows in report order so two
    transactions lock them in the same order); keeps what ``cases.routed`` wrote already.
    The rows as they now are, by report id (one statement)."""
    if not values:
        return {}
    k = KnownReport.__table__
    statement = insert(k)
    update = {c: statement.excluded[c] for c in values[0] if c != "report_id"}
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_=update).returning(*k.c),
        sorted(values, key=lambda v: v["report_id"]))).all()
    return {row.report_id: row for row in rows}


async def remember_routings(session: AsyncSession, routings: list[dict]) -> dict[uuid.UUID, Any]:
    """Where reports were routed (``report_id``, ``case_id``, ``routed_at``, ``queue``; one
    report once). The first routing of a report counts: a later transfer does not re-time the
    receipt. The rows as they now are, by report id (one statement)."""
    if not routings:
        return {}
    k = KnownReport.__table__
    statement = insert(k)
    kept = {c: sa.func.coalesce(k.c[c], statement.excluded[c])
            for c in ("case_id", "routed_at", "queue")}
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_=kept).returning(*k.c),
        sorted(routings, key=lambda v: v["report_id"]))).all()
    return {row.report_id: row for row in rows}


async def known_reports(session: AsyncSession, report_ids: list[uuid.UUID]
                        ) -> dict[uuid.UUID, Any]:
    """The reports as notify knows them, by report id, each row locked (an empty one is made
    for a report not seen yet). The lock orders a decision against its report's own
    transaction: one running at the same time is waited for and then seen, or it waits for
    this one and then sees what this one left for it (``await_reports``). A run locks all its
    rows in one statement, in report order, as the runs of reports and routed cases do: two
    runs never wait for each other in a circle."""
    if not report_ids:
        return {}
    k = KnownReport.__table__
    statement = insert(k).values([{"report_id": r} for r in sorted(set(report_ids))])
    rows = (await session.execute(statement.on_conflict_do_update(
        index_elements=["report_id"], set_={"report_id": statement.excluded.report_id})
        .returning(*k.c))).all()
    return {row.report_id: row for row in rows}


async def await_reports(session: AsyncSession, report_ids: list[uuid.UUID],
                        event: CloudEvent) -> None:
    """Keep a decision for reports not seen yet (once per report and decision event)."""
    if not report_ids:
        return
    a = AwaitedReport.__table__
    await session.execute(insert(a).on_conflict_do_nothing(), [
        {"report_id": r, "decision_event_id": event.id, "decision_event": event.to_bytes()}
        for r in report_ids])


async def take_awaited(session: AsyncSession, report_ids: list[uuid.UUID]
                       ) -> list[tuple[uuid.UUID, CloudEvent]]:
    """The decisions that waited for these reports, as (report id, decision event), removed
    from the waiting list (in the transaction that queues their notices, so none is lost or
    told twice)."""
    if not report_ids:
        return []
    a = AwaitedReport.__table__
    rows = (await session.execute(sa.delete(a).where(a.c.report_id.in_(report_ids))
                                  .returning(a.c.report_id, a.c.decision_event))).all()
    return [(row.report_id, CloudEvent.from_bytes(row.decision_event)) for row in rows]
