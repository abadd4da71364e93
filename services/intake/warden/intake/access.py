"""Who may do what: API keys, scopes and per-client rate limits. No I/O here.

Clients are upstream systems. Each has one API key (sent as ``X-API-Key``), stored only
as its SHA-256: the keys are 256-bit random strings, so a fast hash is enough (no
password stretching needed) and a stolen table does not reveal them.

Scopes: ``submit:<channel>`` for each channel a client may submit reports for, and
``reports:read`` to read the status of its own reports.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass, field

from warden.shared.contracts.events import Channel
from warden.shared.errors import Forbidden

READ_SCOPE = "reports:read"
KEY_PREFIX = "wik_"


def submit_scope(channel: Channel | str) -> str:
    return f"submit:{Channel(channel).value}"


ALL_SCOPES: tuple[str, ...] = (*(submit_scope(c) for c in Channel), READ_SCOPE)


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in ALL_SCOPES]


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ClientIdentity:
    """An authenticated upstream system."""

    id: uuid.UUID
    name: str
    scopes: frozenset[str]
    rate_per_s: float | None = None
    burst: int | None = None

    def may_submit(self, channel: Channel | str) -> bool:
        return submit_scope(channel) in self.scopes

    def may_submit_anything(self) -> bool:
        return any(s.startswith("submit:") for s in self.scopes)

    def require_submit(self, channel: Channel | str) -> None:
        if not self.may_submit(channel):
            raise Forbidden(f"client {self.name!r} may not submit {Channel(channel).value} "
                            f"reports (needs scope {submit_scope(channel)!r})")

    def require_read(self) -> None:
        if READ_SCOPE not in self.scopes:
            raise Forbidden(f"client {self.name!r} may not read reports "
                            f"(needs scope {READ_SCOPE!r})")


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; times come from the caller."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0 on success, else seconds until they would be there."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


@dataclass
class RateLimiter:
    """One token bucket per client, in this process's memory.

    With N workers a client gets up to N times its rate; a shared store (PostgreSQL or
    Redis) would make the limit global at the cost of a round trip per request.
    """

    default_rate: float
    default_burst: int
    max_clients: int = 100_000
    _buckets: dict[uuid.UUID, TokenBucket] = field(default_factory=dict)

    def retry_after(self, client: ClientIdentity, now: float) -> int:
        """0 when the request may proceed, else whole seconds to wait (for ``Retry-After``)."""
        rate = client.rate_per_s or self.default_rate
        burst = float(client.burst or self.default_burst)
        bucket = self._buckets.get(client.id)
        if bucket is None or bucket.rate != rate or bucket.capacity != burst:
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()
            bucket = self._buckets[client.id] = TokenBucket(rate, burst, burst, now)
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
