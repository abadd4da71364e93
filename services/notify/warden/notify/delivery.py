"""The delivery worker: sends pending notifications (webhooks, emails, Transparency Database
batches) and records every attempt.

Each round leases a batch of due notifications in one statement (``FOR UPDATE SKIP LOCKED``,
so replicas never take the same one), commits, and sends them all concurrently outside any
transaction. Outcomes are recorded in batches as the sends end: whatever has ended by the time
the previous batch is stored goes into the next one, in ONE transaction of a few statements
(the notifications' states, their attempts, the endpoints' health, the outcome events through
the outbox; see ``leases``). A batch that cannot be stored leaves its notifications leased;
their lease runs out and they are sent again under the same webhook-id, which receivers use to
drop the second copy (at least once, made exactly once by the receiver; never lost).

Up to ``delivery_rounds_in_flight`` leased rounds are at the receivers at once (a backlog is
not paced by one round's slowest send; each round has its own lease token, and the lease
statement never hands one notification to two rounds). A round that probes an endpoint whose
circuit was open is seen through before anything more is leased, and a probe that succeeds
makes that endpoint's backlog due at once (``circuit.make_backlog_due``).

Retries are scheduled through ``next_attempt_at``, never by sleeping while holding a row. The
worker wakes on PostgreSQL NOTIFY when notifications are created or redelivered, at the next
due time, and at least every poll interval (``warden.shared.wakeup``).

Every delivery continues the trace of the event it tells of: its span's parent is the
``traceparent`` stored with the notification, and the outcome event carries the delivery's.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.clock import utcnow
from warden.notify import leases
from warden.notify.channels import EmailChannel, TransparencyDatabaseChannel, WebhookChannel
from warden.notify.circuit import CircuitGauges, CircuitPolicy
from warden.notify.domain import (
    AttemptResult,
    EndpointKind,
    RetryPolicy,
    Verdict,
    describe_failure,
)
from warden.notify.http_clients import HttpClients
from warden.notify.leases import Claim
from warden.notify.models import DeliveryAttempt
from warden.notify.outcomes import OutcomeRecorder, Sent
from warden.notify.persistence import PENDING_CHANNEL
from warden.notify.settings import NotifySettings
from warden.shared.bus.outbox import Outbox
from warden.shared.db import asyncpg_dsn
from warden.shared.observability import get_logger
from warden.shared.tracing import continuing
from warden.shared.wakeup import WokenLoop

log = get_logger(__name__)

WEBHOOK_SECONDS = Histogram(
    "warden_webhook_request_seconds", "Duration of one webhook POST", ["service"],
)



class DeliveryWorker:
    def __init__(self, *, settings: NotifySettings, sessions: async_sessionmaker[AsyncSession],
                 outbox: Outbox, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._policy = RetryPolicy(max_attempts=settings.delivery_max_attempts,
                                   backoff_initial_s=settings.delivery_backoff_initial_s,
                                   backoff_max_s=settings.delivery_backoff_max_s)
        self._recorder = OutcomeRecorder(
            settings=settings, sessions=sessions, outbox=outbox, policy=self._policy, rng=rng,
            circuit=CircuitPolicy(threshold=settings.circuit_failure_threshold,
                                  open_s=settings.circuit_open_s,
                                  max_open_s=settings.circuit_max_open_s))
        self._loop = WokenLoop(name="delivery", dsn=asyncpg_dsn(settings.database_url),
                               channel=PENDING_CHANNEL, round=self._round,
                               backoff_initial_s=0.2, backoff_max_s=10.0,
                               linger_s=settings.background_linger_s)
        self._clients: HttpClients | None = None
        self._webhooks: WebhookChannel | None = None
        self._email = EmailChannel(sender=settings.email_from,
                                   timeout_s=settings.delivery_timeout_s)
        self._tdb: TransparencyDatabaseChannel | None = None
        self._in_flight: dict[uuid.UUID, tuple[Claim, datetime]] = {}
        self._slots = asyncio.Semaphore(settings.delivery_rounds_in_flight)
        self._rounds: set[asyncio.Task] = set()
        self._gauges = CircuitGauges(sessions, service=settings.service_name,
                                     every_s=settings.delivery_poll_interval_s)

    @property
    def running(self) -> bool:
        return self._loop.running

    async def start(self) -> None:
        self._clients = HttpClients(connections=self._settings.delivery_connections,
                                    timeout_s=self._settings.delivery_timeout_s)
        self._webhooks = WebhookChannel(self._clients)
        self._tdb = TransparencyDatabaseChannel(self._clients,
                                                min_interval_s=self._settings.tdb_min_interval_s)
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._gauges.stop()
        rounds = list(self._rounds)
        for task in rounds:
            task.cancel()
        await asyncio.gather(*rounds, return_exceptions=True)
        await self._release_in_flight()
        if self._clients:
            await self._clients.aclose()

    def wake(self) -> None:
        self._loop.wake()

    async def _round(self) -> float:
        """Lease the next batch and send it in the background: up to
        ``delivery_rounds_in_flight`` batches are at the receivers at once, so a backlog is not
        paced by the slowest send of one batch. A batch that probes an endpoint whose circuit
        was open is seen through before anything else is leased: one probe at a time.

        The wait it returns (until the next notification is due, at most the poll interval)
        is read in the lease's own transaction: a round costs one transaction, not two."""
        await self._slots.acquire()
        try:
            claims, statements, due = await self._claim_round()
        except BaseException:
            self._slots.release()
            raise
        self._gauges.refresh()
        if not claims and not statements:
            self._slots.release()
            return self._wait_until(due)
        task = asyncio.create_task(self._deliver_round(claims, statements),
                                   name="delivery-round")
        self._rounds.add(task)
        task.add_done_callback(self._round_ended)
        if any(c.endpoint_failures >= self._settings.circuit_failure_threshold
               for c in (*claims, *statements)):
            await asyncio.shield(task)
            return 0.0  # a probe that succeeded made its endpoint's backlog due: look again
        if len(claims) >= self._settings.delivery_batch_size \
                or len(statements) >= self._settings.tdb_batch_size:
            return 0.0  # a full batch: there may be more waiting
        return self._wait_until(due)

    def _round_ended(self, task: asyncio.Task) -> None:
        self._rounds.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.warning("delivery_round_failed", error=repr(task.exception()))

    def _wait_until(self, due: datetime | None) -> float:
        ceiling = self._settings.delivery_poll_interval_s
        if due is None:
            return ceiling
        return min(ceiling, max(0.0, (due - utcnow()).total_seconds()))

    # --- one round ---------------------------------------------------------------------

    async def _claim_round(self) -> tuple[list[Claim], list[Claim], datetime | None]:
        """Lease what is due, in one transaction: webhooks and emails highest priority first,
        Transparency Database statements separately (up to one full batch per endpoint: they
        go out together in one request); and when the next one not leased now falls due."""
        lease = timedelta(seconds=self._settings.delivery_lease_s)
        async with self._sessions() as session, session.begin():
            now = utcnow()
            claims = await leases.claim_due(
                session, limit=self._settings.delivery_batch_size, now=now, lease=lease)
            statements = await leases.claim_due(
                session, limit=self._settings.tdb_batch_size, now=now, lease=lease,
                kinds=(EndpointKind.TRANSPARENCY_DB.value,)) \
                if self._settings.tdb_batch_size else []
            due = await leases.next_due_at(session)
        started_at = utcnow()
        for claim in (*claims, *statements):
            self._in_flight[claim.notification_id] = (claim, started_at)
        return claims, statements, due

    async def _deliver_round(self, claims: list[Claim], statements: list[Claim]) -> None:
        """Send a leased round concurrently and record the outcomes in batches as they end."""
        if not claims and not statements:
            return
        batches: dict = {}
        for claim in statements:
            batches.setdefault(claim.endpoint_id, []).append(claim)
        sends = [asyncio.ensure_future(self._send(claim)) for claim in claims]
        sends += [asyncio.ensure_future(self._send_batch(batch)) for batch in batches.values()]
        try:
            pending: set[asyncio.Future] = set(sends)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # Whatever ended while the previous batch was being stored goes in this one.
                await self._record_batch([sent for task in done for sent in task.result()])
        finally:
            for task in sends:
                task.cancel()  # only when this round is cancelled (the worker stops)

    def _span(self, claim: Claim) -> trace.Span:
        return continuing(self._settings.service_name, "notification deliver",
                          traceparent=claim.traceparent, kind=SpanKind.PRODUCER,
                          notification_id=str(claim.notification_id),
                          endpoint=claim.endpoint_name, audience=claim.audience or "")

    async def _send(self, claim: Claim) -> list[Sent]:
        span = self._span(claim)
        with trace.use_span(span, end_on_exit=False):
            result = await self.post(claim)
        return [Sent(claim, result, span)]

    async def _send_batch(self, claims: list[Claim]) -> list[Sent]:
        assert self._tdb is not None, "start() the worker first"
        spans = [self._span(claim) for claim in claims]
        with trace.use_span(spans[0], end_on_exit=False):
            results = await self._tdb.send_batch(claims)
        failed = any(r.verdict is Verdict.RETRY for r in results.values())
        # The endpoint's health is one request's outcome, not a hundred.
        return [Sent(claim, results[claim.notification_id], span, counts_for_health=index == 0,
                     failed_request=failed)
                for index, (claim, span) in enumerate(zip(claims, spans, strict=True))]

    async def post(self, claim: Claim) -> AttemptResult:
        assert self._webhooks is not None, "start() the worker first"
        channel = self._email if claim.kind == EndpointKind.EMAIL.value else self._webhooks
        started_at = utcnow()
        try:
            result = await channel.send(claim)
        except Exception as exc:  # noqa: BLE001 - a send that broke is an attempt to retry
            result = AttemptResult(started_at=started_at, duration_ms=0.0,
                                   error=describe_failure(None, exc))
        WEBHOOK_SECONDS.labels(self._settings.service_name).observe(result.duration_ms / 1000)
        return result

    # --- recording ---------------------------------------------------------------------

    async def record(self, claim: Claim, result: AttemptResult) -> None:
        """Store one attempt and, if this worker still holds the lease, its consequence."""
        span = self._span(claim)
        try:
            await self._recorder.record([Sent(claim, result, span)])
        finally:
            span.end()

    async def _record_batch(self, sent: list[Sent]) -> None:
        try:
            await self._recorder.record(sent)
        except asyncio.CancelledError:
            # The worker stops: these stay in flight, to be released (if still held).
            raise
        except Exception as exc:  # noqa: BLE001 - the leases expire and the sends are retried
            log.warning("delivery_record_failed", notifications=len(sent), error=repr(exc))
        finally:
            for item in sent:
                item.span.end()
        for item in sent:
            self._in_flight.pop(item.claim.notification_id, None)
        if any(item.result.verdict is Verdict.RETRY for item in sent):
            # Its retry may fall due before the wait the loop is in: look again. (A delivered
            # or dead notification changes no due time; the probe's round is awaited.)
            self._loop.wake()

    # --- shutdown ----------------------------------------------------------------------

    async def _release_in_flight(self) -> None:
        """Sends cut short by a shutdown: keep a trace of each and make it due again at once,
        rather than leaving it leased (and undelivered) until the lease runs out."""
        interrupted, self._in_flight = list(self._in_flight.values()), {}
        for claim, started_at in interrupted:
            try:
                async with self._sessions() as session, session.begin():
                    released = await leases.release_claim(session, claim, now=utcnow())
                    if released is not None:
                        session.add(DeliveryAttempt(
                            notification_id=claim.notification_id, number=released,
                            url=claim.url, started_at=started_at,
                            duration_ms=round((utcnow() - started_at).total_seconds() * 1000, 3),
                            error="interrupted: the service stopped before the receiver answered",
                            outcome="interrupted"))
            except Exception as exc:  # noqa: BLE001 - the lease still expires in the end
                log.warning("delivery_release_failed",
                            notification_id=str(claim.notification_id), error=repr(exc))
