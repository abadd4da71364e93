"""Recording what a batch of sends came to, in ONE transaction: each notification's new
state (``leases.record_outcomes``), its attempt, the endpoints' health (``circuit``), and
for every finished notification its outcome events through the outbox
(``notifications.delivered``; a dead one on ``notifications.dlq`` too). Metrics and the log
line of each attempt follow the commit, each in the delivery's span (the trace of the event
the notification tells of) with the notification's correlation id.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import trace
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.clock import utcnow
from warden.notify import circuit, leases
from warden.notify.circuit import CircuitPolicy
from warden.notify.domain import (
    AttemptResult,
    NotificationStatus,
    RetryPolicy,
    after_attempt,
    outcome_event,
    references_of_notification,
)
from warden.notify.leases import Claim, Outcome, Recorded
from warden.notify.settings import NotifySettings
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    NOTIFICATION_DEAD_V1,
    NOTIFICATION_DELIVERED_V1,
    NotificationDeadV1,
)
from warden.shared.observability import correlation_id_var, get_logger

log = get_logger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "warden_webhook_attempts_total", "Webhook POSTs by result (delivered, retry, dead, superseded)",
    ["service", "outcome"],
)
DELIVERIES = Counter(
    "warden_notify_deliveries_total",
    "Finished notifications by audience (reporter, affected, authority, transparency_db, ...) "
    "and outcome (delivered, dead)",
    ["service", "audience", "outcome"],
)



@dataclass
class Sent:
    """A send that has ended, waiting to be recorded."""

    claim: Claim
    result: AttemptResult
    span: trace.Span
    counts_for_health: bool = True
    failed_request: bool | None = None   # a batch request's outcome, for the endpoint's health



class OutcomeRecorder:
    def __init__(self, *, settings: NotifySettings, sessions: async_sessionmaker[AsyncSession],
                 outbox: Outbox, policy: RetryPolicy, circuit: CircuitPolicy,
                 rng: random.Random | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._outbox = outbox
        self._policy = policy
        self._circuit = circuit
        self._rng = rng

    async def record(self, sent: list[Sent]) -> None:
        """Store a batch of ended sends in one transaction (see the module docstring)."""
        if not sent:
            return
        now = utcnow()
        outcomes = [Outcome(claim=s.claim, result=s.result, transition=after_attempt(
            s.result, attempt_in_round=s.claim.attempts_in_round + 1, policy=self._policy,
            now=now, rng=self._rng)) for s in sent]
        async with self._sessions() as session, session.begin():
            recorded = await leases.record_outcomes(session, outcomes, now=now)
            await leases.add_attempts(session, recorded)
            health = circuit.endpoint_health(
                [(o, s.counts_for_health, s.failed_request)
                 for o, s in zip(outcomes, sent, strict=True)], now=now)
            for entry in health:
                await circuit.record_endpoint_health(session, entry, now=now,
                                                    circuit=self._circuit)
            spans = {s.claim.notification_id: s for s in sent}
            events: list[tuple[CloudEvent, str]] = []
            for item in recorded:
                if item.finished:
                    with self._context(spans[item.outcome.claim.notification_id]):
                        events += self._outcome_events(item, now)
            await self._outbox.stage_many(session, events)
        names = {s.claim.endpoint_id: s.claim.endpoint_name for s in sent}
        for entry in health:
            if entry.gone_reason:
                log.warning("endpoint_disabled", endpoint=names.get(entry.endpoint_id),
                            reason=entry.gone_reason)
        service = self._settings.service_name
        for item in recorded:
            claim, result = item.outcome.claim, item.outcome.result
            WEBHOOK_ATTEMPTS.labels(service, item.label).inc()
            if item.finished:
                DELIVERIES.labels(service, item.audience,
                                  item.outcome.transition.status.value).inc()
            with self._context(spans[claim.notification_id]):
                log.info("webhook_attempt", notification_id=str(claim.notification_id),
                         endpoint=claim.endpoint_name, attempt=item.attempts,
                         outcome=item.label, status_code=result.status_code,
                         error=result.error, duration_ms=result.duration_ms)

    @staticmethod
    @contextlib.contextmanager
    def _context(sent: Sent) -> Iterator[None]:
        """The delivery's span and the notification's correlation id, for its log line and
        its outcome events."""
        token = correlation_id_var.set(sent.claim.correlation_id)
        try:
            with trace.use_span(sent.span, end_on_exit=False):
                yield
        finally:
            correlation_id_var.reset(token)

    def _outcome_events(self, item: Recorded, now: datetime) -> list[tuple[CloudEvent, str]]:
        """``notifications.delivered`` for every finished notification (intake learns when a
        reporter was told); a dead one also goes to ``notifications.dlq`` for an operator."""
        claim = item.outcome.claim
        refs = references_of_notification(item)
        status = item.outcome.transition.status
        payload = outcome_event(
            notification_id=claim.notification_id, source_event_id=item.source_event_id,
            source_event_type=item.source_event_type, endpoint_name=claim.endpoint_name,
            endpoint_url=claim.url, status=status, attempts=item.attempts, finished_at=now,
            refs=refs, audience=item.audience, notice=item.notice, channel=item.channel)
        key = refs.subject_id
        events = [(self._outbox.event(type=NOTIFICATION_DELIVERED_V1, key=key, payload=payload),
                   key)]
        if status is NotificationStatus.DEAD:
            events.append((self._outbox.event(type=NOTIFICATION_DEAD_V1, key=key,
                                              payload=NotificationDeadV1(
                notification_id=claim.notification_id, source_event_id=item.source_event_id,
                source_event_type=item.source_event_type, audience=item.audience,
                notice=item.notice, channel=item.channel, endpoint_name=claim.endpoint_name,
                attempts=item.attempts, reason=item.last_error or "gave up", died_at=now,
                case_id=refs.case_id, decision_id=refs.decision_id,
                report_ids=refs.report_ids)), key))
        return events
