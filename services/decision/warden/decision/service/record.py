"""What makes a decision final, and the events and audit records every step leaves."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision import audit, domain, persistence, sor
from warden.decision.models import Case, Decision, Strike
from warden.decision.service import DecisionContext
from warden.shared.contracts.events import (
    AUTOMATED_DECIDER,
    DECISION_APPROVAL_CLOSED_V1,
    DECISION_PENDING_APPROVAL_V1,
    DECISION_RECORDED_V2,
    ActionTaken,
    AppealRights,
    DecisionApprovalClosedV1,
    DecisionPendingApprovalV1,
    DecisionRecordedV2,
    PolicyGround,
    StatementOfReasonsRef,
    Subject,
)
from warden.shared.contracts.taxonomy import CATEGORIES


def actions_of(decision: Decision) -> list[ActionTaken]:
    return [ActionTaken.model_validate(a) for a in decision.actions]


def subject_of(decision: Decision) -> Subject:
    return Subject.model_validate(decision.subject)


def statement_path(decision_id: uuid.UUID) -> str:
    return f"/v1/decisions/{decision_id}/statement-of-reasons"


def keywords_of(category: str) -> tuple[str, ...]:
    found = CATEGORIES.get(category)
    return found.keywords if found else ()


async def audit_step(session: AsyncSession, kind: str, decision: Decision, *, actor: str | None,
                     at: datetime, **extra: Any) -> None:
    """One audit record per step, with what the step decided (not just that it happened)."""
    content = {"decision_id": decision.id, "case_id": decision.case_id,
               "status": decision.status, "stage": decision.stage,
               "actions": decision.actions, "policy": decision.policy.get("policy_id"),
               "policy_version": decision.policy.get("policy_version"),
               "decided_by": decision.decided_by, "approved_by": decision.approved_by,
               "reverses": decision.reverses, "appeal_id": decision.appeal_id,
               "puid": decision.puid, **extra}
    await audit.append(session, kind=kind, entity_id=decision.id, actor=actor,
                       content=content, at=at)


async def hold_for_approval(ctx: DecisionContext, session: AsyncSession, decision: Decision,
                            case: Case, now: datetime) -> None:
    decision.status = domain.PENDING_APPROVAL
    decision.expires_at = domain.pending_expiry(
        now, timedelta(seconds=ctx.settings.approval_ttl_s))
    case.status = domain.PENDING_APPROVAL
    session.add_all([decision, case])
    await session.flush()
    await ctx.outbox.emit(session, type=DECISION_PENDING_APPROVAL_V1,
                          key=subject_of(decision).id, subject=str(decision.id),
                          payload=DecisionPendingApprovalV1(
                              decision_id=decision.id, case_id=decision.case_id,
                              subject=subject_of(decision),
                              decided_by=decision.decided_by or AUTOMATED_DECIDER,
                              queue=decision.queue,
                              action_codes=[a["code"] for a in decision.actions],
                              decided_at=decision.decided_at, expires_at=decision.expires_at))
    await audit_step(session, "decision_pending_approval", decision, actor=decision.decided_by,
                     at=now, expires_at=decision.expires_at)


async def finalise(ctx: DecisionContext, session: AsyncSession, decision: Decision,
                   case: Case, now: datetime, *, actor: str | None) -> DecisionRecordedV2:
    """The decision is in force: statement of reasons, strikes, the decision it replaces,
    the appeal it answers, the case closed, the event emitted, the step audited."""
    actions = actions_of(decision)
    decision.status = domain.FINAL
    decision.final_at = now
    decision.expires_at = None
    if decision.appeal_outcome != "upheld" and domain.restricts(actions):
        spec = ctx.catalogue.policies[decision.policy["policy_id"]]
        decision.statement = sor.build_statement(
            ctx.catalogue, decision_id=decision.id, subject=subject_of(decision),
            actions=actions, policy=spec, ground=PolicyGround.model_validate(decision.policy),
            dsa_category=decision.dsa_category, keywords=keywords_of(decision.category),
            facts=decision.facts, reasoning=decision.reasoning,
            automated_detection=decision.automated_detection,
            automated_decision=decision.automated_decision, channels=list(decision.channels),
            content_date=decision.content_date, application_date=now)
        decision.puid = sor.puid_for(decision.id)
    reference = _statement_reference(decision)
    original = await _settle_appeal(session, decision, now)
    if original is not None and decision.appeal_outcome == "upheld":
        reference = _statement_reference(original)
    _add_strikes(ctx, session, decision, actions, now)
    case.status = domain.DECIDED
    session.add_all([decision, case])
    await session.flush()
    event = recorded_event(ctx, decision, reference)
    await ctx.outbox.emit(session, type=DECISION_RECORDED_V2, key=event.subject.id,
                          subject=str(decision.id), payload=event)
    kind = "decision_final" if decision.stage == domain.REVIEW else \
        f"appeal_{decision.appeal_outcome}"
    await audit_step(session, kind, decision, actor=actor, at=now,
                     restricts=event.restricts)
    return event


async def _settle_appeal(session: AsyncSession, decision: Decision,
                         now: datetime) -> Decision | None:
    """An appeal decision answers every open appeal on the original; a reversal or
    modification puts the original out of force and takes its strikes away."""
    if decision.appeal_id is None:
        return None
    appeal = await persistence.get_appeal(session, decision.appeal_id)
    original = await persistence.get_decision(session, appeal.decision_id, lock=True)
    for open_appeal in await persistence.open_appeals_on(session, original.id):
        open_appeal.status = decision.appeal_outcome
        open_appeal.outcome_decision_id = decision.id
        open_appeal.decided_at = now
        session.add(open_appeal)
    if decision.reverses is not None:
        original.status = domain.REVERSED
        original.reversed_by = decision.id
        session.add(original)
        await persistence.remove_strikes_of(session, original.id, at=now,
                                            reason=f"{decision.appeal_outcome} on appeal "
                                                   f"{decision.appeal_id}")
        await audit_step(session, "decision_reversed", original, actor=decision.decided_by,
                         at=now, reversed_by=decision.id)
    return original


def _add_strikes(ctx: DecisionContext, session: AsyncSession, decision: Decision,
                 actions: list[ActionTaken], now: datetime) -> None:
    if decision.appeal_outcome == "upheld":
        return  # the original's strike stands; upholding does not add another
    for action in actions:
        if action.kind == "strike" and action.target_id:
            session.add(Strike(account_id=action.target_id, decision_id=decision.id,
                               policy_id=decision.policy["policy_id"], issued_at=now,
                               expires_at=now + ctx.catalogue.strikes.expire_after))


def _statement_reference(decision: Decision) -> StatementOfReasonsRef | None:
    if decision.statement is None or decision.puid is None:
        return None
    return StatementOfReasonsRef(puid=decision.puid, url=statement_path(decision.id),
                                 category=str(decision.statement["category"]))


def recorded_event(ctx: DecisionContext, decision: Decision,
                   reference: StatementOfReasonsRef | None) -> DecisionRecordedV2:
    actions = actions_of(decision)
    rights = None
    if decision.stage == domain.REVIEW:
        rights = AppealRights(deadline=domain.appeal_deadline(decision.final_at, None),
                              how=ctx.settings.appeal_instructions)
    return DecisionRecordedV2(
        decision_id=decision.id, case_id=decision.case_id, subject=subject_of(decision),
        actions=actions, restricts=domain.restricts(actions),
        policy=PolicyGround.model_validate(decision.policy), category=decision.category,
        dsa_category=decision.dsa_category, facts=decision.facts,
        reasoning=decision.reasoning, automated_detection=decision.automated_detection,
        automated_decision=decision.automated_decision,
        automation_rule=decision.automation_rule, decided_by=decision.decided_by,
        approved_by=decision.approved_by, decided_at=decision.decided_at,
        final_at=decision.final_at, report_ids=[uuid.UUID(r) for r in decision.report_ids],
        stage=decision.stage, appeal_id=decision.appeal_id,
        appeal_outcome=decision.appeal_outcome, reverses=decision.reverses,
        statement_of_reasons=reference, appeal=rights)


async def close_unapproved(ctx: DecisionContext, session: AsyncSession, decision: Decision,
                           case: Case | None, *, outcome: str, closed_by: str | None,
                           reason: str | None, now: datetime) -> None:
    """A rejected or expired decision: nothing is enforced and the case waits in its queue
    again (an appeal case stays under appeal)."""
    decision.status = outcome
    decision.closed_at = now
    decision.closed_by = closed_by
    decision.approval_note = reason
    decision.expires_at = None
    session.add(decision)
    if case is not None:
        case.status = domain.OPEN
        session.add(case)
    await session.flush()
    await ctx.outbox.emit(session, type=DECISION_APPROVAL_CLOSED_V1,
                          key=subject_of(decision).id, subject=str(decision.id),
                          payload=DecisionApprovalClosedV1(
                              decision_id=decision.id, case_id=decision.case_id,
                              subject=subject_of(decision), outcome=outcome,
                              decided_by=decision.decided_by or AUTOMATED_DECIDER,
                              closed_by=closed_by, reason=reason, closed_at=now))
    await audit_step(session, f"decision_{outcome}", decision, actor=closed_by, at=now,
                     reason=reason)
