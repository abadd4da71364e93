"""Event handlers of the routing service (thin: parse, delegate, persist) and the wiring.

Reports and decision outcomes are consumed by separate runners, so a backlog of reports
never holds back closing or reopening cases.
"""

from __future__ import annotations


from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import approvals, service
from warden.routing.policy import PolicyStore
from warden.routing.service import Routing
from warden.routing.settings import RoutingSettings
from warden.routing.workers import LeaseSweeper, PolicyReloadOnSignal, SlaWatcher
from warden.shared.clock import utcnow
from warden.shared.app import Runtime
from warden.shared.bus.consumer import Delivery
from warden.shared.contracts import topics
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    DECISION_APPROVAL_CLOSED_V1,
    DECISION_PENDING_APPROVAL_V1,
    DECISION_RECORDED_V1,
    DECISION_RECORDED_V2,
    REPORT_NORMALIZED_V1,
)

ROUTING = "routing"


def routing(runtime: Runtime) -> Routing:
    return runtime.extras[ROUTING]


def handlers(ctx: Routing):
    async def on_reports_normalized(session: AsyncSession, deliveries: list[Delivery]) -> None:
        """A run of reports (of one fetch), routed together (set-based statements)."""
        await service.route_reports(ctx, session, [d.payload for d in deliveries],
                                    utcnow(), scopes=[d.scope for d in deliveries])

    async def on_decision_recorded(delivery: Delivery) -> None:
        decision = delivery.payload
        if delivery.message.type == DECISION_RECORDED_V2:
            decision = decision.as_v1()  # closing a case needs only what v1 carried
        await service.close_on_decision(ctx, delivery.session, decision, utcnow())

    async def on_appeal_filed(delivery: Delivery) -> None:
        await service.reopen_on_appeal(ctx, delivery.session, delivery.payload,
                                       utcnow())

    return on_reports_normalized, on_decision_recorded, on_appeal_filed


async def on_pending_approval(delivery: Delivery) -> None:
    await approvals.hold_for_approval(delivery.session, delivery.payload, utcnow())


async def on_approval_closed(delivery: Delivery) -> None:
    await approvals.return_after_approval_closed(delivery.session, delivery.payload,
                                                 utcnow())


def wire(runtime: Runtime) -> None:
    settings: RoutingSettings = runtime.settings  # type: ignore[assignment]
    # Loading validates the policy: a bad file stops start-up with the rule it names.
    ctx = Routing(policies=PolicyStore(settings.policy_path), outbox=runtime.outbox,
                  settings=settings)
    service.publish_policy_metric(None, ctx.policy)
    runtime.extras[ROUTING] = ctx
    on_report, on_decision, on_appeal = handlers(ctx)
    runtime.consumers.append(runtime.consumer(
        "reports", [topics.REPORTS_NORMALIZED], {},
        batch_handlers={REPORT_NORMALIZED_V1: on_report}))
    runtime.consumers.append(runtime.consumer(
        "outcomes", [topics.DECISIONS_RECORDED, topics.APPEALS_FILED],
        {DECISION_RECORDED_V1: on_decision, DECISION_RECORDED_V2: on_decision,
         DECISION_PENDING_APPROVAL_V1: on_pending_approval,
         DECISION_APPROVAL_CLOSED_V1: on_approval_closed, APPEAL_FILED_V1: on_appeal}))
    runtime.workers.append(SlaWatcher(ctx, runtime.sessions, settings.sla_check_interval_s))
    runtime.workers.append(LeaseSweeper(ctx, runtime.sessions, settings.lease_sweep_interval_s))
    if settings.reload_on_sighup:
        runtime.workers.append(PolicyReloadOnSignal(ctx, runtime.sessions))
