"""Leases on due notifications, and the record of what their attempts came to, in batches.

A round of the delivery worker costs a few statements whatever its size:

* ``claim_due``: ONE statement leases the round's notifications (``UPDATE .. FROM`` a
  ``SELECT .. FOR UPDATE SKIP LOCKED``, so replicas never take the same one) and returns
  everything needed to send them;
* ``record_outcomes``: ONE statement stores the state of every notification of a batch —
  its new status when this worker still holds its lease, only the attempt's traces when the
  lease ran out and another worker took over ("superseded") — and ``add_attempts`` ONE
  insert of their attempts (an endpoint's health, one update per endpoint and batch, is
  ``circuit``'s).

The lease token is drawn once per round: a notification is held by a worker exactly while
its ``claim_token`` is that round's token.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.notify.domain import (
    AttemptResult,
    EndpointKind,
    NotificationStatus,
    Transition,
)
from warden.notify.models import IS_PENDING, DeliveryAttempt, Endpoint, Notification
from warden.shared.db import ArrayInsert

_notifications = Notification.__table__
_endpoints = Endpoint.__table__
_attempts = DeliveryAttempt.__table__
_INSERT_ATTEMPTS = ArrayInsert(_attempts, [
    "notification_id", "number", "url", "started_at", "duration_ms", "status_code", "error",
    "outcome"])


@dataclass(frozen=True)
class Claim:
    """A notification a worker holds under a lease, with everything needed to send it."""

    notification_id: uuid.UUID
    token: uuid.UUID
    endpoint_name: str
    url: str
    secret: str
    body: str
    correlation_id: str | None = None
    endpoint_id: uuid.UUID | None = None
    kind: str = EndpointKind.WEBHOOK.value
    secrets: tuple[str, ...] = ()
    puid: str | None = None
    audience: str | None = None
    notice: str | None = None
    endpoint_failures: int = 0  # when leased: a success then needs no write to the endpoint
    attempts_in_round: int = 0  # attempts in the current retry round before this one
    traceparent: str | None = None


def _circuit_closed(now: datetime):
    e = _endpoints
    return sa.or_(e.c.circuit_open_until.is_(None), e.c.circuit_open_until <= now)


async def claim_due(session: AsyncSession, *, limit: int, now: datetime, lease: timedelta,
                    kinds: tuple[str, ...] = (EndpointKind.WEBHOOK.value,
                                              EndpointKind.EMAIL.value)) -> list[Claim]:
    """Lease due notifications in one statement, highest priority first (authority notices
    never wait behind a backlog of user notices), then the longest due; rows another replica
    is claiming right now are skipped, and so are endpoints whose circuit is open."""
    n, e = _notifications, _endpoints
    token = uuid.uuid4()
    due = (sa.select(n.c.id)
           .join(e, e.c.id == n.c.endpoint_id)
           .where(IS_PENDING, n.c.next_attempt_at <= now,
                  e.c.enabled, e.c.kind.in_(kinds), _circuit_closed(now))
           .order_by(n.c.priority.desc(), n.c.next_attempt_at)
           .limit(limit)
           .with_for_update(of=n, skip_locked=True)
           .cte("due"))
    rows = (await session.execute(
        sa.update(n).where(n.c.id == due.c.id, e.c.id == n.c.endpoint_id)
        .values(claim_token=token, next_attempt_at=now + lease)
        .returning(n.c.id, n.c.body, n.c.correlation_id, n.c.puid, n.c.audience, n.c.notice,
                   n.c.priority, n.c.attempts_in_round, n.c.traceparent,
                   e.c.id.label("endpoint_id"), e.c.name, e.c.url, e.c.secret, e.c.kind,
                   e.c.previous_secret, e.c.previous_secret_expires_at,
                   e.c.consecutive_failures))).all()
    rows = sorted(rows, key=lambda row: -row.priority)
    return [Claim(notification_id=row.id, token=token, endpoint_name=row.name, url=row.url,
                  secret=row.secret, body=row.body, correlation_id=row.correlation_id,
                  endpoint_id=row.endpoint_id, kind=row.kind, secrets=_signing_secrets(row, now),
                  puid=row.puid, audience=row.audience, notice=row.notice,
                  endpoint_failures=row.consecutive_failures,
                  attempts_in_round=row.attempts_in_round, traceparent=row.traceparent)
            for row in rows]


def _signing_secrets(row, now: datetime) -> tuple[str, ...]:
    if row.previous_secret and row.previous_secret_expires_at \
            and row.previous_secret_expires_at > now:
        return (row.secret, row.previous_secret)
    return (row.secret,)


async def release_claim(session: AsyncSession, claim: Claim, *, now: datetime) -> int | None:
    """Give back a lease whose POST never finished; returns the attempt number it used, if held.

    The interrupted attempt counts in the total but not against the retry budget: the
    receiver may or may not have seen it, and the next attempt carries the same webhook-id.
    """
    n = _notifications
    return await session.scalar(
        sa.update(n).where(n.c.id == claim.notification_id, n.c.claim_token == claim.token)
        .values(claim_token=None, next_attempt_at=now, attempts=n.c.attempts + 1, updated_at=now)
        .returning(n.c.attempts))


async def next_due_at(session: AsyncSession) -> datetime | None:
    n, e = _notifications, _endpoints
    due = sa.func.greatest(n.c.next_attempt_at,
                           sa.func.coalesce(e.c.circuit_open_until, n.c.next_attempt_at))
    return await session.scalar(
        sa.select(sa.func.min(due)).join(e, e.c.id == n.c.endpoint_id)
        .where(IS_PENDING, e.c.enabled))


# --- outcomes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One attempt to record: the lease it was made under, what it came to, and the state the
    notification takes if that lease is still held."""

    claim: Claim
    result: AttemptResult
    transition: Transition

    @property
    def label(self) -> str:
        status = self.transition.status
        return "retry" if status is NotificationStatus.PENDING else status.value


@dataclass(frozen=True)
class Recorded:
    """An outcome as stored: ``held`` tells whether the lease was still this worker's."""

    outcome: Outcome
    held: bool
    attempts: int           # the notification's attempts, this one included
    source_event_id: str
    source_event_type: str
    subject_id: str
    case_id: uuid.UUID | None
    decision_id: uuid.UUID | None
    report_ids: list
    audience: str
    notice: str | None
    channel: str
    last_error: str | None

    @property
    def label(self) -> str:
        # Our lease ran out and another worker took over: the attempt is kept, not the verdict.
        return self.outcome.label if self.held else "superseded"

    @property
    def finished(self) -> bool:
        return self.held and self.outcome.transition.finished


_RECORD = sa.text("""
WITH v AS (
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:tokens AS uuid[]),
                         CAST(:statuses AS text[]), CAST(:next_at AS timestamptz[]),
                         CAST(:codes AS integer[]), CAST(:errors AS text[]),
                         CAST(:responses AS text[]))
        AS v(id, token, status, next_attempt_at, status_code, error, response)
), held AS (
    SELECT n.id, n.claim_token IS NOT DISTINCT FROM v.token AS held
    FROM notifications n JOIN v ON v.id = n.id
    FOR UPDATE OF n
)
UPDATE notifications n SET
    attempts = n.attempts + 1,
    last_status_code = v.status_code,
    last_error = v.error,
    last_response = COALESCE(CAST(v.response AS jsonb), n.last_response),
    status = CASE WHEN h.held THEN v.status ELSE n.status END,
    next_attempt_at = CASE WHEN h.held THEN v.next_attempt_at ELSE n.next_attempt_at END,
    attempts_in_round = n.attempts_in_round + CASE WHEN h.held THEN 1 ELSE 0 END,
    claim_token = CASE WHEN h.held THEN NULL ELSE n.claim_token END,
    updated_at = CASE WHEN h.held THEN :now ELSE n.updated_at END,
    finished_at = CASE WHEN NOT h.held THEN n.finished_at
                       WHEN v.status = 'pending' THEN NULL ELSE :now END
FROM v JOIN held h ON h.id = v.id
WHERE n.id = v.id
RETURNING n.id, h.held, n.attempts, n.source_event_id, n.source_event_type, n.subject_id,
          n.case_id, n.decision_id, n.report_ids, n.audience, n.notice, n.channel, n.last_error
""")


async def record_outcomes(session: AsyncSession, outcomes: list[Outcome], *,
                          now: datetime) -> list[Recorded]:
    """Store a batch of attempts' consequences in one statement (see the module docstring);
    returns them in the order given. The caller adds the attempts (``add_attempts``)."""
    if not outcomes:
        return []
    rows = (await session.execute(_RECORD, {
        "ids": [o.claim.notification_id for o in outcomes],
        "tokens": [o.claim.token for o in outcomes],
        "statuses": [o.transition.status.value for o in outcomes],
        "next_at": [o.transition.next_attempt_at for o in outcomes],
        "codes": [o.result.status_code for o in outcomes],
        "errors": [o.result.error for o in outcomes],
        "responses": [None if o.result.response is None else json.dumps(o.result.response)
                      for o in outcomes],
        "now": now,
    })).all()
    by_id = {row.id: row for row in rows}
    recorded = []
    for outcome in outcomes:
        row = by_id.get(outcome.claim.notification_id)
        if row is None:
            continue  # deleted meanwhile: nothing left to record it on
        recorded.append(Recorded(
            outcome=outcome, held=row.held, attempts=row.attempts,
            source_event_id=row.source_event_id, source_event_type=row.source_event_type,
            subject_id=row.subject_id, case_id=row.case_id, decision_id=row.decision_id,
            report_ids=list(row.report_ids or []), audience=row.audience, notice=row.notice,
            channel=row.channel, last_error=row.last_error))
    return recorded


async def add_attempts(session: AsyncSession, recorded: list[Recorded]) -> None:
    """Every attempt of a batch, kept for an operator, in one insert."""
    if not recorded:
        return
    await _INSERT_ATTEMPTS.execute(session, [{
        "notification_id": r.outcome.claim.notification_id, "number": r.attempts,
        "url": r.outcome.claim.url, "started_at": r.outcome.result.started_at,
        "duration_ms": r.outcome.result.duration_ms,
        "status_code": r.outcome.result.status_code, "error": r.outcome.result.error,
        "outcome": r.label} for r in recorded])
