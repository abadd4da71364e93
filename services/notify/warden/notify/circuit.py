"""Each endpoint's health: the circuit breaker that leaves a failing endpoint alone for a
cool-down, and a 410 that disables it.

After ``threshold`` failed attempts in a row the circuit opens; while it is open the endpoint's
notifications wait, unspent (the lease query skips it). Failures up to the threshold count one
by one (a batch of them opens the circuit); past it a batch counts as one failed probe, so the
cool-down doubles once per round that fails, not once per notification that was in it. A
success closes the circuit.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.clock import utcnow
from warden.shared.observability import get_logger
from warden.notify.domain import Verdict
from warden.notify.models import IS_PENDING, Endpoint, Notification

if TYPE_CHECKING:
    from warden.notify.leases import Outcome

_endpoints = Endpoint.__table__
log = get_logger(__name__)

CIRCUIT_OPEN = Gauge(
    "warden_notify_circuit_open",
    "1 while the circuit breaker of a delivery endpoint is open, else 0",
    ["service", "endpoint"],
)


@dataclass(frozen=True)
class CircuitPolicy:
    """After ``threshold`` failed attempts in a row an endpoint is left alone for a cool-down
    (doubling while it keeps failing, up to ``max_open_s``); its notifications wait, unspent."""

    threshold: int = 5
    open_s: float = 30.0
    max_open_s: float = 600.0

    def open_until(self, consecutive_failures: int, now: datetime) -> datetime | None:
        if consecutive_failures < self.threshold:
            return None
        doublings = min(consecutive_failures - self.threshold, 10)
        return now + timedelta(seconds=min(self.max_open_s, self.open_s * 2 ** doublings))



@dataclass
class Health:
    """What a batch of attempts says of one endpoint, in the order they ended: a success
    closes its circuit (``reset``), each retryable failure after the last success counts
    toward opening it, a 410 disables it."""

    endpoint_id: uuid.UUID
    reset: bool = False
    failures: int = 0
    gone_reason: str | None = None
    failures_known: int = 0   # its failure count when the notifications were leased

    def add(self, *, failed: bool, gone: bool, now: datetime) -> None:
        if gone:
            self.gone_reason = f"the receiver answered 410 Gone at {now.isoformat()}"
        elif failed:
            self.failures += 1
        else:
            self.reset, self.failures = True, 0

    @property
    def changes_anything(self) -> bool:
        # All went well and the endpoint had no failures: nothing to write.
        return bool(self.gone_reason or self.failures or self.failures_known)


def endpoint_health(items: list[tuple[Outcome, bool, bool | None]], *,
                    now: datetime) -> list[Health]:
    """``items``: (outcome, counts for the endpoint's health, the request failed — None:
    judge by the attempt's verdict). A batch request to the Transparency Database is one
    request's outcome for its endpoint, not a hundred."""
    health: dict[uuid.UUID, Health] = {}
    for outcome, counts, failed_request in items:
        claim = outcome.claim
        if not counts or claim.endpoint_id is None:
            continue
        verdict = outcome.result.verdict
        failed = verdict is Verdict.RETRY if failed_request is None else failed_request
        entry = health.setdefault(claim.endpoint_id, Health(claim.endpoint_id))
        entry.failures_known = max(entry.failures_known, claim.endpoint_failures)
        entry.add(failed=failed, gone=verdict is Verdict.GONE, now=now)
    return [h for h in health.values() if h.changes_anything]


async def record_endpoint_health(session: AsyncSession, health: Health, *, now: datetime,
                                 circuit: CircuitPolicy) -> None:
    """Success closes the circuit; a retryable failure counts toward opening it; a 410
    disables the endpoint until an operator enables it again."""
    e = _endpoints
    where = e.c.id == health.endpoint_id
    if health.gone_reason:
        await session.execute(sa.update(e).where(where).values(
            enabled=False, disabled_reason=health.gone_reason, updated_at=now))
        return
    # Past the threshold a batch counts as one failed probe (see the module docstring).
    if health.reset:
        # Closed by the success, then opened again if enough failures followed it.
        failures = min(health.failures, circuit.threshold)
        await session.execute(
            sa.update(e).where(where, sa.or_(e.c.consecutive_failures != failures,
                                             e.c.circuit_open_until.is_not(None)))
            .values(consecutive_failures=failures,
                    circuit_open_until=circuit.open_until(failures, now)))
        if failures == 0 and health.failures_known >= circuit.threshold:
            # A probe went through: the circuit is closed again.
            await make_backlog_due(session, health.endpoint_id, now=now)
        return
    if not health.failures:
        return
    counted = e.c.consecutive_failures
    # A batch that was already at the receiver when another one opened the circuit is not a
    # probe: it fails for the same outage, and must not double the cool-down again.
    not_open = sa.or_(counted < circuit.threshold, e.c.circuit_open_until.is_(None),
                      e.c.circuit_open_until <= now)
    failures = await session.scalar(
        sa.update(e).where(where, not_open)
        .values(consecutive_failures=sa.func.least(
            counted + health.failures, sa.func.greatest(counted + 1, circuit.threshold)))
        .returning(e.c.consecutive_failures))
    if failures is not None:
        open_until = circuit.open_until(failures, now)
        if open_until is not None:
            await session.execute(sa.update(e).where(where)
                                  .values(circuit_open_until=open_until))


async def make_backlog_due(session: AsyncSession, endpoint_id: uuid.UUID, *,
                           now: datetime) -> None:
    """An endpoint that works again takes its backlog at once: notifications waiting out a
    retry backoff because it was failing are due now (those leased right now are left to
    their worker). Their retry budget is unchanged."""
    n = Notification.__table__
    await session.execute(
        sa.update(n).where(n.c.endpoint_id == endpoint_id, IS_PENDING,
                           n.c.claim_token.is_(None), n.c.next_attempt_at > now)
        .values(next_attempt_at=now))


class CircuitGauges:
    """The open-circuit gauges, read at most once per ``every_s`` in a task of their own: a
    gauge scraped every few seconds needs no statement in every delivery round."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, service: str,
                 every_s: float) -> None:
        self._sessions = sessions
        self._service = service
        self._every_s = every_s
        self._read_at = float("-inf")
        self._task: asyncio.Task | None = None

    def refresh(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._read_at < self._every_s or (self._task and not self._task.done()):
            return
        self._read_at = now
        self._task = asyncio.create_task(self._read(), name="circuit-gauges")

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _read(self) -> None:
        e = _endpoints
        try:
            async with self._sessions() as session:
                circuits = (await session.execute(
                    sa.select(e.c.name, e.c.circuit_open_until))).all()
        except Exception as exc:  # noqa: BLE001 - a gauge is not worth failing a round for
            log.info("circuit_gauges_unread", error=repr(exc))
            return
        now = utcnow()
        for name, open_until in circuits:
            CIRCUIT_OPEN.labels(self._service, name).set(
                1 if open_until is not None and open_until > now else 0)
