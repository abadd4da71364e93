"""Deciding a case: by the reviewer who holds its lease, or automatically when a routing
rule says so."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision import domain, persistence
from warden.decision.domain import ActionRequest, CaseView
from warden.decision.models import Case, Decision
from warden.decision.service import DecisionContext
from warden.decision.service.record import finalise, hold_for_approval
from warden.shared.auth import Reviewer
from warden.shared.contracts.events import ActionTaken, CaseRoutedV1, PolicyGround
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.errors import Conflict, InvalidInput, NotFound
from warden.shared.lease_tokens import Lease
from warden.shared.observability import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class DecisionInput:
    actions: list[ActionRequest]
    policy_id: str
    facts: str
    reasoning: str
    territorial_scope: list[str]
    automated_detection: bool | None = None
    automated_decision: str | None = None
    content_date: datetime | None = None


async def locked_case(session: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await persistence.lock_case(session, case_id)
    if case is None:
        raise NotFound(f"no routed case {case_id} is known to the decision service")
    return case


def dsa_category_of(category: str) -> str:
    found = CATEGORIES.get(category)
    return found.dsa.value if found else "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"


def new_decision(ctx: DecisionContext, view: CaseView, *, stage: str, actions: list[ActionTaken],
                 ground: PolicyGround, facts: str, reasoning: str, automated_detection: bool,
                 automated_decision: str, decided_by: str | None, required_skills: list[str],
                 content_date: datetime | None, now: datetime, **extra) -> Decision:
    spec = ctx.catalogue.policies[ground.policy_id]
    return Decision(
        id=uuid.uuid4(), case_id=view.case_id, stage=stage, status=domain.FINAL,
        queue=view.queue, subject=view.subject.model_dump(mode="json"),
        owner_id=domain.owner_of(view.subject),
        actions=[a.model_dump(mode="json") for a in actions],
        policy=ground.model_dump(mode="json"), category=view.category,
        dsa_category=spec.dsa_category or dsa_category_of(view.category), facts=facts,
        reasoning=reasoning, automated_detection=automated_detection,
        automated_decision=automated_decision, decided_by=decided_by,
        required_skills=sorted(required_skills),
        report_ids=[str(r) for r in view.report_ids], channels=list(view.channels),
        content_date=content_date or view.first_routed_at or now, decided_at=now, **extra)


async def strikes_before(session: AsyncSession, view: CaseView, now: datetime) -> int:
    owner = domain.owner_of(view.subject)
    return await persistence.active_strikes(session, owner, now) if owner else 0


async def take_effect(ctx: DecisionContext, session: AsyncSession, decision: Decision,
                      case: Case, now: datetime) -> Decision:
    """Severe or irreversible actions wait for a second reviewer; the rest are final now."""
    session.add(decision)
    await session.flush()  # the one-decision-per-case-stage index speaks here
    if domain.needs_four_eyes(ctx.catalogue, [ActionTaken.model_validate(a)
                                              for a in decision.actions]):
        await hold_for_approval(ctx, session, decision, case, now)
    else:
        await finalise(ctx, session, decision, case, now, actor=decision.decided_by)
    return decision


async def record_decision(ctx: DecisionContext, session: AsyncSession, case_id: uuid.UUID,
                          request: DecisionInput, reviewer: Reviewer, lease: Lease | None,
                          now: datetime) -> Decision:
    # What the body alone can tell is a 422 whether or not the case exists.
    domain.check_action_codes(ctx.catalogue, request.actions)
    _, ground = domain.cite_policy(ctx.catalogue, request.policy_id)
    case = await locked_case(session, case_id)
    view = persistence.view_of(case)
    if view.stage == domain.APPEAL and view.status == domain.OPEN:
        raise Conflict(f"case {case_id} is under appeal: decide appeal {view.appeal_id} "
                       f"(POST /v1/appeals/{view.appeal_id}/decision)")
    domain.authorise_decider(view, reviewer, lease, now)
    actions = domain.plan_actions(ctx.catalogue, view.subject, request.actions,
                                  default_scope=request.territorial_scope, now=now,
                                  active_strikes=await strikes_before(session, view, now))
    detection, automated = domain.automated_flags(
        view.channels, automated_detection=request.automated_detection,
        automated_decision=request.automated_decision)
    decision = new_decision(ctx, view, stage=domain.REVIEW, actions=actions, ground=ground,
                            facts=request.facts, reasoning=request.reasoning,
                            automated_detection=detection, automated_decision=automated,
                            decided_by=reviewer.id, required_skills=sorted(lease.required_skills),
                            content_date=request.content_date, now=now)
    return await take_effect(ctx, session, decision, case, now)


async def decide_automatically(ctx: DecisionContext, session: AsyncSession,
                               routed: CaseRoutedV1, now: datetime) -> Decision | None:
    """A routing rule flagged for automated decisions opened this case (its conditions hold
    the confidence threshold): decide it now, fully automated, citing the rule. An order the
    catalogues cannot honour is left to reviewers, and logged."""
    order = routed.automated_decision
    case = await persistence.lock_case(session, routed.case_id)
    if order is None or case is None or case.status != domain.OPEN \
            or case.stage != domain.REVIEW:
        return None
    view = persistence.view_of(case)
    try:
        spec, ground = domain.cite_policy(ctx.catalogue, order.policy_id)
        actions = domain.plan_actions(
            ctx.catalogue, view.subject, [ActionRequest(code=c) for c in order.actions],
            default_scope=[], now=now, active_strikes=await strikes_before(session, view, now),
            field_path="automated_decision.actions")
    except InvalidInput as exc:
        log.warning("automated_decision_refused", case_id=str(view.case_id),
                    rule_id=order.rule_id, problem=exc.detail)
        return None
    rule = f"routing:{order.policy_version}:{order.rule_id}"
    decision = new_decision(
        ctx, view, stage=domain.REVIEW, actions=actions, ground=ground,
        facts=f"An automated detector's signal met the threshold of routing rule "
              f"{order.rule_id} (policy {order.policy_version}).",
        reasoning=spec.explanation, automated_detection=True, automated_decision="fully",
        decided_by=None, required_skills=[], content_date=None, now=now,
        automation_rule=rule)
    return await take_effect(ctx, session, decision, case, now)
