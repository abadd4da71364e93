"""What happens to a notification after each attempt: its states, the verdict of an answer,
the retry budget and its backoff. No I/O here."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from warden.shared.backoff import backoff_delay
from warden.shared.errors import Conflict


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


FINISHED = frozenset({NotificationStatus.DELIVERED, NotificationStatus.DEAD})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return backoff_delay(attempt, initial=self.backoff_initial_s,
                             maximum=self.backoff_max_s, rng=rng)


class Verdict(StrEnum):
    """What an attempt's answer means for the notification."""

    DELIVERED = "delivered"
    RETRY = "retry"          # try again later (5xx, 429, timeouts, refused connections)
    PERMANENT = "permanent"  # the receiver refuses this message for good: dead at once
    GONE = "gone"            # 410: the endpoint is gone; it is disabled, the message is dead


# A 4xx means the receiver refuses this request; sending the same bytes again cannot help —
# except these, which say "later" or may be fixed on the receiver's side (its secret, its
# authorisation) without a change on ours.
RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 423, 425, 429})


@dataclass(frozen=True)
class AttemptResult:
    """What one POST (or SMTP transaction) came to."""

    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response: dict | None = None  # kept for an operator (e.g. the database's 422 errors)
    verdict_override: Verdict | None = None

    @property
    def succeeded(self) -> bool:
        return self.verdict is Verdict.DELIVERED

    @property
    def verdict(self) -> Verdict:
        if self.verdict_override is not None:
            return self.verdict_override
        code = self.status_code
        if code is None:
            return Verdict.RETRY
        if 200 <= code < 300:
            return Verdict.DELIVERED
        if code == 410:
            return Verdict.GONE
        if 400 <= code < 500 and code not in RETRYABLE_4XX:
            return Verdict.PERMANENT
        return Verdict.RETRY


@dataclass(frozen=True)
class Transition:
    status: NotificationStatus
    next_attempt_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def after_attempt(result: AttemptResult, *, attempt_in_round: int, policy: RetryPolicy,
                  now: datetime, rng: random.Random | None = None) -> Transition:
    """Delivered on a 2xx; dead on a permanent refusal; otherwise retried after a jittered
    backoff until the budget is spent.

    ``attempt_in_round`` counts attempts since the notification was created or last redelivered
    by an operator (1-based, including this one).
    """
    verdict = result.verdict
    if verdict is Verdict.DELIVERED:
        return Transition(NotificationStatus.DELIVERED, None)
    if verdict in (Verdict.PERMANENT, Verdict.GONE) or attempt_in_round >= policy.max_attempts:
        return Transition(NotificationStatus.DEAD, None)
    delay = policy.delay(attempt_in_round, rng)
    return Transition(NotificationStatus.PENDING, now + timedelta(seconds=delay))


def redelivery(status: NotificationStatus, *, now: datetime) -> Transition:
    """An operator sends a finished notification again, with a fresh retry budget."""
    if status not in FINISHED:
        raise Conflict("the notification is still pending: it will be sent without being asked")
    return Transition(NotificationStatus.PENDING, now)


def describe_failure(status_code: int | None, error: BaseException | None) -> str | None:
    """A short, log-safe reason for a failed attempt (never the response body)."""
    if error is not None:
        text = str(error).strip()
        return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__
    if status_code is not None and not 200 <= status_code < 300:
        return f"receiver answered HTTP {status_code}"
    return None
