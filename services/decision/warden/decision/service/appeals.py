"""Appeals (DSA Art. 20): filed by an upstream system for the affected user (or the reporter
of a no-action decision), decided by a reviewer who took no part in the decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision import domain, persistence
from warden.decision.domain import ActionRequest
from warden.decision.models import Appeal, Decision
from warden.decision.service import DecisionContext
from warden.decision.service.decisions import locked_case, new_decision, take_effect
from warden.decision.service.record import actions_of, audit_step, subject_of
from warden.shared.auth import Reviewer
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    AUTOMATED_DECIDER,
    AppealFiledV1,
    PolicyGround,
)
from warden.shared.errors import Conflict, InvalidInput, NotFound
from warden.shared.lease_tokens import Lease


@dataclass(frozen=True)
class AppealInput:
    decision_id: uuid.UUID
    appellant_id: str
    appellant_kind: domain.AppellantKind
    reason: str


async def file_appeal(ctx: DecisionContext, session: AsyncSession, request: AppealInput,
                      client_id: str, now: datetime) -> tuple[Appeal, bool]:
    """The appeal and whether it is new (a second appeal by the same appellant on the same
    decision is the first one)."""
    found = await persistence.get_decision(session, request.decision_id)
    if found is None:
        raise NotFound(f"no final decision {request.decision_id}")
    case = await persistence.lock_case(session, found.case_id)
    decision = await persistence.get_decision(session, request.decision_id, lock=True)
    existing = await persistence.appeal_by(session, decision.id, request.appellant_id)
    if existing is not None:
        return existing, False
    deadline = domain.appeal_deadline(decision.final_at or decision.decided_at,
                                      decision.notified_at)
    domain.check_appeal(decision_id=decision.id, status=decision.status, stage=decision.stage,
                        subject=subject_of(decision),
                        restricts_anything=domain.restricts(actions_of(decision)),
                        appellant_id=request.appellant_id,
                        appellant_kind=request.appellant_kind, deadline=deadline, now=now)
    appeal = Appeal(id=uuid.uuid4(), decision_id=decision.id, case_id=decision.case_id,
                    appellant_id=request.appellant_id, appellant_kind=request.appellant_kind,
                    client_id=client_id, reason=request.reason, filed_at=now,
                    deadline=deadline, status="open")
    session.add(appeal)
    if case.stage != domain.APPEAL:
        case.stage, case.status, case.appeal_id = domain.APPEAL, domain.OPEN, appeal.id
        session.add(case)
    await session.flush()
    excluded = domain.excluded_from_appeal(decision.decided_by, decision.approved_by)
    await ctx.outbox.emit(session, type=APPEAL_FILED_V1, key=subject_of(decision).id,
                          subject=str(appeal.id), payload=AppealFiledV1(
                              appeal_id=appeal.id, decision_id=decision.id,
                              case_id=decision.case_id, subject=subject_of(decision),
                              appellant_id=request.appellant_id, reason=request.reason,
                              filed_at=now,
                              original_reviewer_id=decision.decided_by or AUTOMATED_DECIDER,
                              appellant_kind=request.appellant_kind, client_id=client_id,
                              excluded_reviewer_ids=excluded, deadline=deadline))
    await audit_step(session, "appeal_filed", decision, actor=client_id, at=now,
                     appeal=appeal.id, appellant_kind=request.appellant_kind,
                     case_appeal=case.appeal_id)
    return appeal, True


@dataclass(frozen=True)
class AppealDecisionInput:
    outcome: Literal["uphold", "reverse", "modify"]
    facts: str
    reasoning: str
    actions: list[ActionRequest] | None = None
    policy_id: str | None = None
    territorial_scope: list[str] | None = None


OUTCOMES = {"uphold": "upheld", "reverse": "reversed", "modify": "modified"}


async def decide_appeal(ctx: DecisionContext, session: AsyncSession, appeal_id: uuid.UUID,
                        request: AppealDecisionInput, reviewer: Reviewer, lease: Lease | None,
                        now: datetime) -> Decision:
    found = await persistence.get_appeal(session, appeal_id)
    if found is None:
        raise NotFound(f"no appeal {appeal_id}")
    case = await locked_case(session, found.case_id)
    appeal = await persistence.get_appeal(session, appeal_id, lock=True)
    if appeal.status != "open":
        raise Conflict(f"appeal {appeal_id} was already decided ({appeal.status})")
    original = await persistence.get_decision(session, appeal.decision_id, lock=True)
    view = persistence.view_of(case)
    excluded = set(domain.excluded_from_appeal(original.decided_by, original.approved_by))
    domain.authorise_decider(view, reviewer, lease, now, excluded=excluded)
    actions, ground = _appeal_actions(ctx, request, original, view, now, await
                                      _strikes_without(session, original, view, now))
    decision = new_decision(
        ctx, view, stage=domain.APPEAL, actions=actions, ground=ground, facts=request.facts,
        reasoning=request.reasoning, automated_detection=original.automated_detection,
        automated_decision="not_automated", decided_by=reviewer.id,
        required_skills=sorted(lease.required_skills), content_date=original.content_date,
        now=now, appeal_id=case.appeal_id or appeal.id,
        appeal_outcome=OUTCOMES[request.outcome],
        reverses=original.id if request.outcome != "uphold" else None)
    return await take_effect(ctx, session, decision, case, now)


async def _strikes_without(session: AsyncSession, original: Decision, view, now) -> int:
    owner = domain.owner_of(view.subject)
    if owner is None:
        return 0
    return await persistence.active_strikes(session, owner, now, excluding=original.id)


def _appeal_actions(ctx: DecisionContext, request: AppealDecisionInput, original: Decision,
                    view, now: datetime, strikes: int):
    """uphold: the original's measures stand (restated); reverse: each restriction undone;
    modify: restrictions not kept are undone and the new measures taken."""
    original_actions = actions_of(original)
    original_ground = PolicyGround.model_validate(original.policy)
    if request.outcome == "uphold":
        return original_actions, original_ground
    if request.outcome == "reverse":
        restoring = domain.reversal_actions(ctx.catalogue, original_actions, now=now)
        return restoring or [_no_action(ctx, view, now)], original_ground
    if not request.actions:
        raise InvalidInput("body.actions: a modification says which actions replace the "
                           "original ones", errors=[{"field": "body.actions", "type": "missing",
                                                     "message": "required for modify"}])
    _, ground = domain.cite_policy(ctx.catalogue, request.policy_id or original_ground.policy_id)
    new = domain.plan_actions(ctx.catalogue, view.subject, request.actions,
                              default_scope=request.territorial_scope or [], now=now,
                              active_strikes=strikes)
    kept = {a.code for a in new}
    return domain.reversal_actions(ctx.catalogue, original_actions, keep=kept,
                                   now=now) + new, ground


def _no_action(ctx: DecisionContext, view, now: datetime):
    return domain.plan_actions(ctx.catalogue, view.subject, [ActionRequest(code="no_action")],
                               default_scope=[], now=now, active_strikes=0)[0]
