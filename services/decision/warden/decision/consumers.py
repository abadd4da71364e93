"""Event handlers of the decision service (thin: parse, delegate, persist) and its wiring."""

from __future__ import annotations


from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision import persistence
from warden.decision.catalogue import load_catalogue
from warden.decision.service import DecisionContext
from warden.decision.service.decisions import decide_automatically
from warden.decision.settings import DecisionSettings
from warden.decision.workers import ApprovalExpiry
from warden.shared.clock import utcnow
from warden.shared.apikeys import install_api_keys
from warden.shared.app import Runtime
from warden.shared.bus.consumer import Delivery
from warden.shared.contracts import topics
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V2,
    NOTIFICATION_DELIVERED_V1,
    NotificationDeliveredV1,
)

CONTEXT = "decision"
APPEALS_SCOPE = "appeals:file"
SCOPES = (APPEALS_SCOPE,)


def context(runtime: Runtime) -> DecisionContext:
    return runtime.extras[CONTEXT]


def handlers(ctx: DecisionContext):
    async def on_cases_routed(session: AsyncSession, deliveries: list[Delivery]) -> None:
        """A run of routed cases: one multi-row upsert of the copies up to each case that
        carries an automated decision order, which is then decided on the copy as it stood
        after its own event (as if handled one by one)."""
        run: list[Delivery] = []
        for delivery in deliveries:
            run.append(delivery)
            if delivery.payload.automated_decision is not None:
                await persistence.upsert_routed_cases(session, [d.payload for d in run])
                run = []
                with delivery.scope():
                    await decide_automatically(ctx, session, delivery.payload,
                                               utcnow())
        await persistence.upsert_routed_cases(session, [d.payload for d in run])

    return on_cases_routed


def tells_a_decision(delivered: NotificationDeliveredV1) -> bool:
    """A delivered notice of a decision (v2: the statement of reasons): the only kind that
    starts an appeal window. Receipts and failed deliveries are none of decision's business."""
    return (delivered.status == "delivered" and delivered.decision_id is not None
            and delivered.source_event_type == DECISION_RECORDED_V2)


async def on_notifications_delivered(session: AsyncSession,
                                     deliveries: list[Delivery]) -> None:
    """The appeal window runs from when the affected party was first told (a run at once)."""
    await persistence.mark_notified(session, [
        (d.payload.decision_id, d.payload.finished_at) for d in deliveries
        if tells_a_decision(d.payload)])


async def wire(runtime: Runtime) -> None:
    settings: DecisionSettings = runtime.settings  # type: ignore[assignment]
    # Loading validates both catalogues: a bad file stops start-up naming the bad entry.
    ctx = DecisionContext(catalogue=load_catalogue(settings.actions_path,
                                                   settings.policies_path),
                          settings=settings, outbox=runtime.outbox)
    runtime.extras[CONTEXT] = ctx
    await install_api_keys(runtime, SCOPES)
    runtime.consumers.append(runtime.consumer(
        "cases", [topics.CASES_ROUTED], {}, batch_handlers={CASE_ROUTED_V1: handlers(ctx)}))
    runtime.consumers.append(runtime.consumer(
        "notifications", [topics.NOTIFICATIONS_DELIVERED], {},
        batch_handlers={NOTIFICATION_DELIVERED_V1: on_notifications_delivered},
        wants={NOTIFICATION_DELIVERED_V1: tells_a_decision}, background=True))
    runtime.workers.append(ApprovalExpiry(ctx, runtime.sessions,
                                          settings.approval_sweep_interval_s))
