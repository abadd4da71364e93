"""Reads and writes of the decision service's tables."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision.domain import CaseView
from warden.decision.models import Decision, RoutedCase
from warden.shared.contracts.events import CaseRoutedV1, DecisionRecordedV1, Subject


async def upsert_routed_case(session: AsyncSession, routed: CaseRoutedV1) -> None:
    """Keep the latest routing state; events for one subject arrive in order."""
    values = {
        "case_id": routed.case_id,
        "subject": routed.subject.model_dump(mode="json"),
        "policy_area": routed.policy_area,
        "category": routed.category,
        "queue": routed.queue,
        "priority": routed.priority,
        "due_at": routed.due_at,
        "report_ids": [str(r) for r in routed.report_ids],
        "routed_at": routed.routed_at,
    }
    table = RoutedCase.__table__
    statement = insert(table).values(**values, status=routed.status)
    update = {k: statement.excluded[k] for k in values if k != "case_id"}
    # A late routing update never reopens a case that has been decided here.
    update["status"] = statement.excluded.status if routed.status != "open" else table.c.status
    await session.execute(statement.on_conflict_do_update(index_elements=["case_id"], set_=update))


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> CaseView | None:
    """The case, locked for this transaction so two decisions cannot race."""
    row = (await session.exec(
        select(RoutedCase).where(RoutedCase.case_id == case_id).with_for_update()
    )).first()
    if row is None:
        return None
    return CaseView(case_id=row.case_id, subject=Subject.model_validate(row.subject),
                    policy_area=row.policy_area, category=row.category, status=row.status,
                    report_ids=[uuid.UUID(r) for r in row.report_ids])


async def case_exists(session: AsyncSession, case_id: uuid.UUID) -> bool:
    return await session.get(RoutedCase, case_id) is not None


async def store_decision(session: AsyncSession, decision: DecisionRecordedV1) -> Decision:
    record = Decision(
        id=decision.decision_id, case_id=decision.case_id, action=decision.action,
        policy_cited=decision.policy_cited, rationale=decision.rationale,
        reviewer_id=decision.reviewer_id, restricts=decision.restricts,
        dsa_category=decision.dsa_category, territorial_scope=decision.territorial_scope,
        decided_at=decision.decided_at,
    )
    session.add(record)
    case = await session.get(RoutedCase, decision.case_id)
    case.status = "decided"
    session.add(case)
    await session.flush()
    return record


async def get_decision(session: AsyncSession, decision_id: uuid.UUID) -> Decision | None:
    return await session.get(Decision, decision_id)


async def decisions_for_case(session: AsyncSession, case_id: uuid.UUID) -> list[Decision]:
    result = await session.exec(select(Decision).where(Decision.case_id == case_id)
                                .order_by(Decision.decided_at))
    return list(result.all())
