"""Reads and writes of the decision service's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision.domain import OPEN, PENDING_APPROVAL, CaseView
from warden.decision.models import Appeal, Case, Decision, Strike
from warden.shared.contracts.events import CaseRoutedV1, Subject
from warden.shared.db import ArrayInsert

_cases = Case.__table__
_strikes = Strike.__table__

# --- the lean copy of routed cases --------------------------------------------------------------
# One statement, built once, that only binds values: a run of cases.routed records costs one
# multi-row statement inside the consumer's batch transaction. Routing's later events update
# what routing owns (queue, reports); status, stage and appeal are the decision service's own.
_ROUTING_OWNS = ("subject", "policy_area", "category", "queue", "channels", "report_ids",
                 "routed_at")
_UPSERT_ROUTED = ArrayInsert(
    _cases, ["case_id", *_ROUTING_OWNS, "first_routed_at", "status", "stage", "appeal_id"],
    then="ON CONFLICT (case_id) DO UPDATE SET "
         + ", ".join(f"{column} = EXCLUDED.{column}" for column in _ROUTING_OWNS)
         + f" WHERE {_cases.name}.routed_at <= EXCLUDED.routed_at")


async def upsert_routed_cases(session: AsyncSession, events: list[CaseRoutedV1]) -> None:
    """Keep what deciding needs; events for one subject arrive in order, and a stale one
    (older ``routed_at``) changes nothing. Several events of one case in the run fold into
    one row first (one statement may not change a row twice): the newest wins, as it would
    one by one, and ``first_routed_at`` is the first event's."""
    rows: dict[uuid.UUID, dict] = {}
    for routed in events:
        row = {
            "case_id": routed.case_id, "subject": routed.subject.model_dump(mode="json"),
            "policy_area": routed.policy_area, "category": routed.category,
            "queue": routed.queue, "channels": [c.value for c in routed.channels],
            "report_ids": [str(r) for r in routed.report_ids],
            "first_routed_at": routed.routed_at, "routed_at": routed.routed_at,
            "status": OPEN, "stage": "review", "appeal_id": None}
        earlier = rows.get(routed.case_id)
        if earlier is not None:
            if routed.routed_at < earlier["routed_at"]:
                continue
            row["first_routed_at"] = earlier["first_routed_at"]
        rows[routed.case_id] = row
    await _UPSERT_ROUTED.execute(session, list(rows.values()))


def view_of(row: Case) -> CaseView:
    return CaseView(case_id=row.case_id, subject=Subject.model_validate(row.subject),
                    policy_area=row.policy_area, category=row.category, queue=row.queue,
                    status=row.status, stage=row.stage,
                    report_ids=[uuid.UUID(r) for r in row.report_ids],
                    channels=list(row.channels), appeal_id=row.appeal_id,
                    first_routed_at=row.first_routed_at)


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    """The case, locked for this transaction: two decisions on it run one after the other."""
    return (await session.exec(select(Case).where(Case.case_id == case_id).with_for_update()
                               .execution_options(populate_existing=True))).first()


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    return await session.get(Case, case_id)


# --- decisions ----------------------------------------------------------------------------------

async def get_decision(session: AsyncSession, decision_id: uuid.UUID, *,
                       lock: bool = False) -> Decision | None:
    statement = select(Decision).where(Decision.id == decision_id)
    if lock:  # and re-read: an earlier unlocked read may be stale by now
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.exec(statement)).first()


async def decisions_for_case(session: AsyncSession, case_id: uuid.UUID) -> list[Decision]:
    return list((await session.exec(select(Decision).where(Decision.case_id == case_id)
                                    .order_by(Decision.decided_at))).all())


async def pending_decisions(session: AsyncSession, *, limit: int,
                            after: datetime | None = None) -> list[Decision]:
    statement = select(Decision).where(Decision.status == PENDING_APPROVAL)
    if after is not None:
        statement = statement.where(Decision.decided_at > after)
    return list((await session.exec(statement.order_by(Decision.decided_at).limit(limit))).all())


async def expired_pending(session: AsyncSession, now: datetime,
                          limit: int) -> list[uuid.UUID]:
    """Ids of pending decisions past their expiry (the caller locks and re-checks each)."""
    return list((await session.exec(
        select(Decision.id).where(Decision.status == PENDING_APPROVAL,
                                  Decision.expires_at <= now)
        .order_by(Decision.expires_at).limit(limit))).all())


# The earliest delivery of a run per decision, kept only if earlier than the one stored.
_MARK_NOTIFIED = sa.text("""
    UPDATE decisions SET notified_at = first.at
    FROM (SELECT decision_id, min(at) AS at
          FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS run(decision_id, at)
          GROUP BY decision_id) AS first
    WHERE decisions.id = first.decision_id
      AND (decisions.notified_at IS NULL OR decisions.notified_at > first.at)""")


async def mark_notified(session: AsyncSession,
                        deliveries: list[tuple[uuid.UUID, datetime]]) -> None:
    """The first delivered notification of each decision starts its appeal window."""
    if deliveries:
        await session.execute(_MARK_NOTIFIED, {"ids": [d for d, _ in deliveries],
                                               "ats": [at for _, at in deliveries]})


# --- appeals ------------------------------------------------------------------------------------

async def appeal_by(session: AsyncSession, decision_id: uuid.UUID,
                    appellant_id: str) -> Appeal | None:
    return (await session.exec(select(Appeal).where(
        Appeal.decision_id == decision_id, Appeal.appellant_id == appellant_id))).first()


async def get_appeal(session: AsyncSession, appeal_id: uuid.UUID, *,
                     lock: bool = False) -> Appeal | None:
    statement = select(Appeal).where(Appeal.id == appeal_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.exec(statement)).first()


async def open_appeals_on(session: AsyncSession, decision_id: uuid.UUID) -> list[Appeal]:
    return list((await session.exec(select(Appeal).where(
        Appeal.decision_id == decision_id, Appeal.status == "open"))).all())


# --- strikes ------------------------------------------------------------------------------------

async def active_strikes(session: AsyncSession, account_id: str, now: datetime, *,
                         excluding: uuid.UUID | None = None) -> int:
    statement = sa.select(sa.func.count()).select_from(_strikes).where(
        _strikes.c.account_id == account_id, _strikes.c.removed_at.is_(None),
        _strikes.c.expires_at > now)
    if excluding is not None:
        statement = statement.where(_strikes.c.decision_id != excluding)
    return await session.scalar(statement) or 0


async def strikes_of(session: AsyncSession, account_id: str) -> list[Strike]:
    return list((await session.exec(select(Strike).where(Strike.account_id == account_id)
                                    .order_by(Strike.issued_at))).all())


async def remove_strikes_of(session: AsyncSession, decision_id: uuid.UUID, *, at: datetime,
                            reason: str) -> int:
    result = await session.execute(
        sa.update(_strikes).where(_strikes.c.decision_id == decision_id,
                                  _strikes.c.removed_at.is_(None))
        .values(removed_at=at, removed_reason=reason))
    return result.rowcount
