"""API keys, client identities and per-client token buckets. No I/O here.

Keys are 256-bit random strings stored only as their SHA-256: with that much entropy a
fast hash is enough (no password stretching needed) and a stolen table does not reveal
them.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from warden.shared.errors import Forbidden

KEY_PREFIX = "wik_"


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def unknown_scopes(scopes: Iterable[str], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [s for s in scopes if s not in known]


@dataclass(frozen=True)
class ClientIdentity:
    """An authenticated upstream system."""

    id: uuid.UUID
    name: str
    scopes: frozenset[str]
    rate_per_s: float | None = None
    burst: int | None = None

    def has_scope_starting(self, prefix: str) -> bool:
        return any(s.startswith(prefix) for s in self.scopes)

    def require_scope(self, scope: str, doing: str) -> None:
        """``Forbidden`` unless the client holds ``scope``; ``doing`` says what was refused."""
        if scope not in self.scopes:
            raise Forbidden(f"client {self.name!r} may not {doing} (needs scope {scope!r})")


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; times come from the caller."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0 on success, else seconds until they would be there."""
        self.refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0: now), without taking them."""
        self.refill(now)
        return 0.0 if self.tokens >= cost else (cost - self.tokens) / self.rate


def whole_seconds(wait: float) -> int:
    """A wait as ``Retry-After`` seconds: 0 means go ahead, otherwise at least 1."""
    return 0 if wait == 0 else max(1, math.ceil(wait))


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
        return whole_seconds(bucket.take(now))
