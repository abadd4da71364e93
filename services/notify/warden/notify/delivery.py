"""The delivery worker: sends pending notifications as signed webhooks and records every attempt.

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
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify import persistence
from warden.notify.domain import (
    AttemptResult,
    NotificationStatus,
    RetryPolicy,
    after_attempt,
    describe_failure,
    outcome_event,
    references_of_notification,
)
from warden.notify.models import DeliveryAttempt
from warden.notify.settings import NotifySettings
from warden.notify.signing import signature_headers
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.events import NOTIFICATION_DELIVERED_V1
from warden.shared.db import asyncpg_dsn
from warden.shared.observability import correlation_id_var, get_logger

log = get_logger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "warden_webhook_attempts_total", "Webhook POSTs by result (delivered, retry, dead, superseded)",
    ["service", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "warden_webhook_request_seconds", "Duration of one webhook POST", ["service"],
)
USER_AGENT = "Warden-Webhooks/1.0"


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
        self._client: httpx.AsyncClient | None = None
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
        """One round: lease what is due, send it all, record the outcomes. Returns how many."""
        lease = timedelta(seconds=self._settings.delivery_lease_s)
        async with self._sessions() as session, session.begin():
            claims = await persistence.claim_due(session, limit=self._settings.delivery_batch_size,
                                                 now=_utcnow(), lease=lease)
        await asyncio.gather(*(self._deliver(claim) for claim in claims))
        return len(claims)

    async def _deliver(self, claim: persistence.Claim) -> None:
        self._in_flight[claim.notification_id] = (claim, _utcnow())
        result = await self.post(claim)
        try:
            await self.record(claim, result)
        except Exception as exc:  # noqa: BLE001 - the lease expires and the send is retried
            log.warning("delivery_record_failed", notification_id=str(claim.notification_id),
                        error=repr(exc))
        del self._in_flight[claim.notification_id]

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
        assert self._client is not None, "start() the worker first"
        body = claim.body.encode()
        headers = signature_headers(claim.secret, str(claim.notification_id), int(time.time()),
                                    body)
        headers["content-type"] = "application/json"
        started_at, started = _utcnow(), time.perf_counter()
        status_code, error = None, None
        try:
            response = await self._client.post(claim.url, content=body, headers=headers)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = exc
        elapsed = time.perf_counter() - started
        WEBHOOK_SECONDS.labels(self._settings.service_name).observe(elapsed)
        return AttemptResult(started_at=started_at, duration_ms=round(elapsed * 1000, 3),
                             status_code=status_code, error=describe_failure(status_code, error))

    async def record(self, claim: persistence.Claim, result: AttemptResult) -> None:
        """Store the attempt and, if this worker still holds the lease, its consequence."""
        token = correlation_id_var.set(claim.correlation_id)
        try:
            await self._record_in_context(claim, result)
        finally:
            correlation_id_var.reset(token)

    async def _record_in_context(self, claim: persistence.Claim, result: AttemptResult) -> None:
        now = _utcnow()
        async with self._sessions() as session, session.begin():
            notification = await persistence.lock_notification(session, claim.notification_id)
            if notification is None:
                return
            notification.attempts += 1
            notification.last_status_code = result.status_code
            notification.last_error = result.error
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
        refs = references_of_notification(notification)
        payload = outcome_event(
            notification_id=notification.id, source_event_id=notification.source_event_id,
            source_event_type=notification.source_event_type, endpoint_name=claim.endpoint_name,
            endpoint_url=claim.url, status=NotificationStatus(notification.status),
            attempts=notification.attempts, finished_at=now, refs=refs)
        await self._outbox.emit(session, type=NOTIFICATION_DELIVERED_V1, key=refs.subject_id,
                                payload=payload)
