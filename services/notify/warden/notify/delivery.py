"""The delivery worker: sends pending notifications (webhooks, emails, Transparency Database
batches) and records every attempt.

Each round it leases a batch of due notifications (``FOR UPDATE SKIP LOCKED``, so replicas
never take the same one), commits, POSTs them concurrently outside any transaction, then
records each attempt and the resulting state (with the outcome event when it is final) in one
transaction per notification. Retries are scheduled through ``next_attempt_at``, never by
sleeping while holding a row. The worker wakes on PostgreSQL NOTIFY when notifications are
created or redelivered, at the next due time, and at least every poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify import persistence
from warden.notify.channels import (
    USER_AGENT,
    EmailChannel,
    TransparencyDatabaseChannel,
    WebhookChannel,
)
from warden.notify.domain import (
    AttemptResult,
    CircuitPolicy,
    EndpointKind,
    NotificationStatus,
    RetryPolicy,
    Verdict,
    after_attempt,
    outcome_event,
    references_of_notification,
)
from warden.notify.models import DeliveryAttempt
from warden.notify.settings import NotifySettings
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.events import (
    NOTIFICATION_DEAD_V1,
    NOTIFICATION_DELIVERED_V1,
    NotificationDeadV1,
)
from warden.shared.db import asyncpg_dsn
from warden.shared.observability import correlation_id_var, get_logger
from warden.shared.tracing import working

log = get_logger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "warden_webhook_attempts_total", "Webhook POSTs by result (delivered, retry, dead, superseded)",
    ["service", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "warden_webhook_request_seconds", "Duration of one webhook POST", ["service"],
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(self, *, settings: NotifySettings, sessions: async_sessionmaker[AsyncSession],
                 outbox: Outbox, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._outbox = outbox
        self._rng = rng
        self._policy = RetryPolicy(max_attempts=settings.delivery_max_attempts,
                                   backoff_initial_s=settings.delivery_backoff_initial_s,
                                   backoff_max_s=settings.delivery_backoff_max_s)
        self._wake = asyncio.Event()
        self._circuit = CircuitPolicy(threshold=settings.circuit_failure_threshold,
                                      open_s=settings.circuit_open_s,
                                      max_open_s=settings.circuit_max_open_s)
        self._client: httpx.AsyncClient | None = None
        self._webhooks: WebhookChannel | None = None
        self._email = EmailChannel(sender=settings.email_from,
                                   timeout_s=settings.delivery_timeout_s)
        self._tdb: TransparencyDatabaseChannel | None = None
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._in_flight: dict[uuid.UUID, tuple[persistence.Claim, datetime]] = {}

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.delivery_timeout_s),
            follow_redirects=False,  # a redirect is not a delivery; the operator fixes the URL
            headers={"user-agent": USER_AGENT},
        )
        self._webhooks = WebhookChannel(self._client)
        self._tdb = TransparencyDatabaseChannel(self._client,
                                                min_interval_s=self._settings.tdb_min_interval_s)
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="notify-delivery")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release_in_flight()
        if self._listener and not self._listener.is_closed():
            await self._listener.close()
        if self._client:
            await self._client.aclose()

    def wake(self) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self._settings.database_url))
            await self._listener.add_listener(persistence.PENDING_CHANNEL,
                                              lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still delivers everything; LISTEN only makes it prompt.
            log.warning("delivery_listen_failed", error=str(exc))
            self._listener = None

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                claimed = await self.deliver_due()
                failures = 0
                if claimed >= self._settings.delivery_batch_size:
                    continue
                wait = await self._seconds_until_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker outlives any one failure
                failures += 1
                log.warning("delivery_round_failed", error=repr(exc), failures=failures)
                wait = min(10.0, 0.2 * 2 ** min(failures, 6))
            if self._listener is None or self._listener.is_closed():
                await self._listen()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _seconds_until_due(self) -> float:
        async with self._sessions() as session:
            due = await persistence.next_due_at(session)
        ceiling = self._settings.delivery_poll_interval_s
        if due is None:
            return ceiling
        return min(ceiling, max(0.0, (due - _utcnow()).total_seconds()))

    async def deliver_due(self) -> int:
        """One round: lease what is due, send it all, record the outcomes. Returns how many.

        Webhooks and emails are leased highest priority first; Transparency Database
        statements separately, up to one full batch per endpoint, because they go out
        together in one request.
        """
        lease = timedelta(seconds=self._settings.delivery_lease_s)
        async with self._sessions() as session, session.begin():
            now = _utcnow()
            claims = await persistence.claim_due(
                session, limit=self._settings.delivery_batch_size, now=now, lease=lease)
            statements = await persistence.claim_due(
                session, limit=self._settings.tdb_batch_size, now=now, lease=lease,
                kinds=(EndpointKind.TRANSPARENCY_DB.value,)) \
                if self._settings.tdb_batch_size else []
        batches: dict = {}
        for claim in statements:
            batches.setdefault(claim.endpoint_id, []).append(claim)
        await asyncio.gather(*(self._deliver(claim) for claim in claims),
                             *(self._deliver_batch(batch) for batch in batches.values()))
        return len(claims) + len(statements)

    async def _deliver(self, claim: persistence.Claim) -> None:
        self._in_flight[claim.notification_id] = (claim, _utcnow())
        result = await self.post(claim)
        try:
            await self.record(claim, result)
        except Exception as exc:  # noqa: BLE001 - the lease expires and the send is retried
            log.warning("delivery_record_failed", notification_id=str(claim.notification_id),
                        error=repr(exc))
        del self._in_flight[claim.notification_id]

    async def _deliver_batch(self, claims: list[persistence.Claim]) -> None:
        started_at = _utcnow()
        for claim in claims:
            self._in_flight[claim.notification_id] = (claim, started_at)
        results = await self._tdb.send_batch(claims)
        failed = any(r.verdict is Verdict.RETRY for r in results.values())
        for index, claim in enumerate(claims):
            try:
                # The endpoint's health is one request's outcome, not a hundred.
                await self.record(claim, results[claim.notification_id],
                                  health=index == 0, failed_request=failed)
            except Exception as exc:  # noqa: BLE001 - the lease expires and it is retried
                log.warning("delivery_record_failed",
                            notification_id=str(claim.notification_id), error=repr(exc))
            self._in_flight.pop(claim.notification_id, None)

    async def _release_in_flight(self) -> None:
        """POSTs cut short by a shutdown: keep a trace of each and make it due again at once,
        rather than leaving it leased (and undelivered) until the lease runs out."""
        interrupted, self._in_flight = list(self._in_flight.values()), {}
        for claim, started_at in interrupted:
            try:
                async with self._sessions() as session, session.begin():
                    released = await persistence.release_claim(session, claim, now=_utcnow())
                    if released is not None:
                        await persistence.add_attempt(session, DeliveryAttempt(
                            notification_id=claim.notification_id, number=released,
                            url=claim.url, started_at=started_at,
                            duration_ms=round((_utcnow() - started_at).total_seconds() * 1000, 3),
                            error="interrupted: the service stopped before the receiver answered",
                            outcome="interrupted"))
            except Exception as exc:  # noqa: BLE001 - the lease still expires in the end
                log.warning("delivery_release_failed",
                            notification_id=str(claim.notification_id), error=repr(exc))

    async def post(self, claim: persistence.Claim) -> AttemptResult:
        assert self._webhooks is not None, "start() the worker first"
        channel = self._email if claim.kind == EndpointKind.EMAIL.value else self._webhooks
        result = await channel.send(claim)
        WEBHOOK_SECONDS.labels(self._settings.service_name).observe(result.duration_ms / 1000)
        return result

    async def record(self, claim: persistence.Claim, result: AttemptResult, *,
                     health: bool = True, failed_request: bool | None = None) -> None:
        """Store the attempt and, if this worker still holds the lease, its consequence."""
        token = correlation_id_var.set(claim.correlation_id)
        try:
            # Delivery runs apart from the consumed event's trace (it is not stored), in a
            # span of its own so its log lines carry a trace id like every other.
            with working(self._settings.service_name, "notification deliver",
                         notification_id=str(claim.notification_id)):
                await self._record_in_context(claim, result, health=health,
                                              failed_request=failed_request)
        finally:
            correlation_id_var.reset(token)

    async def _record_in_context(self, claim: persistence.Claim, result: AttemptResult, *,
                                 health: bool, failed_request: bool | None) -> None:
        now = _utcnow()
        async with self._sessions() as session, session.begin():
            notification = await persistence.lock_notification(session, claim.notification_id)
            if notification is None:
                return
            notification.attempts += 1
            notification.last_status_code = result.status_code
            notification.last_error = result.error
            if result.response is not None:
                notification.last_response = result.response
            verdict = result.verdict
            failed = verdict is Verdict.RETRY if failed_request is None else failed_request
            healthy_still = not failed and verdict is not Verdict.GONE \
                and claim.endpoint_failures == 0
            if health and claim.endpoint_id is not None and not healthy_still:
                gone = (f"the receiver answered 410 Gone at {now.isoformat()}"
                        if verdict is Verdict.GONE else None)
                await persistence.record_endpoint_health(
                    session, claim.endpoint_id, now=now, circuit=self._circuit, gone_reason=gone,
                    failed=failed)
                if gone:
                    log.warning("endpoint_disabled", endpoint=claim.endpoint_name, reason=gone)
            if notification.claim_token != claim.token:
                # Our lease ran out and another worker took over: keep the attempt, not the verdict.
                outcome = "superseded"
            else:
                notification.attempts_in_round += 1
                transition = after_attempt(result, attempt_in_round=notification.attempts_in_round,
                                           policy=self._policy, now=now, rng=self._rng)
                persistence.apply_transition(notification, transition, now=now)
                outcome = ("retry" if transition.status is NotificationStatus.PENDING
                           else transition.status.value)
                if transition.finished:
                    await self._emit_outcome(session, claim, notification, now)
            session.add(notification)
            await persistence.add_attempt(session, DeliveryAttempt(
                notification_id=notification.id, number=notification.attempts, url=claim.url,
                started_at=result.started_at, duration_ms=result.duration_ms,
                status_code=result.status_code, error=result.error, outcome=outcome))
        WEBHOOK_ATTEMPTS.labels(self._settings.service_name, outcome).inc()
        log.info("webhook_attempt", notification_id=str(claim.notification_id),
                 endpoint=claim.endpoint_name, attempt=notification.attempts, outcome=outcome,
                 status_code=result.status_code, error=result.error,
                 duration_ms=result.duration_ms)

    async def _emit_outcome(self, session: AsyncSession, claim: persistence.Claim,
                            notification, now: datetime) -> None:
        """``notifications.delivered`` for every finished notification (intake learns when a
        reporter was told); a dead one also goes to ``notifications.dlq`` for an operator."""
        refs = references_of_notification(notification)
        status = NotificationStatus(notification.status)
        payload = outcome_event(
            notification_id=notification.id, source_event_id=notification.source_event_id,
            source_event_type=notification.source_event_type, endpoint_name=claim.endpoint_name,
            endpoint_url=claim.url, status=status,
            attempts=notification.attempts, finished_at=now, refs=refs,
            audience=notification.audience, notice=notification.notice,
            channel=notification.channel)
        await self._outbox.emit(session, type=NOTIFICATION_DELIVERED_V1, key=refs.subject_id,
                                payload=payload)
        if status is NotificationStatus.DEAD:
            await self._outbox.emit(session, type=NOTIFICATION_DEAD_V1, key=refs.subject_id,
                                    payload=NotificationDeadV1(
                notification_id=notification.id,
                source_event_id=notification.source_event_id,
                source_event_type=notification.source_event_type,
                audience=notification.audience, notice=notification.notice,
                channel=notification.channel, endpoint_name=claim.endpoint_name,
                attempts=notification.attempts,
                reason=notification.last_error or "gave up", died_at=now,
                case_id=refs.case_id, decision_id=refs.decision_id,
                report_ids=refs.report_ids))
