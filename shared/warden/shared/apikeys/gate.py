"""Authenticating upstream clients by API key and rate-limiting them (FastAPI dependencies)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.apikeys.keys import (
    ClientIdentity,
    RateLimiter,
    TokenBucket,
    hash_api_key,
    whole_seconds,
)
from warden.shared.apikeys.settings import ApiKeySettings
from warden.shared.apikeys.store import client_for_key_hash, ensure_dev_client
from warden.shared.errors import RateLimited, Unauthorized

API_KEY_HEADER = "X-API-Key"
GATE = "api_keys"  # key of the gate in ``runtime.extras``
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="the client's API key")
_CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}


class ExpiringSet:
    """Keys remembered until their expiry, at most ``max_entries`` (oldest dropped first)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            del self._expiry[key]
            return False
        return True

    def add(self, key: str, ttl_s: float) -> None:
        self._expiry[key] = time.monotonic() + ttl_s
        self._expiry.move_to_end(key)
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)

    def clear(self) -> None:
        self._expiry.clear()


class FailureLimiter:
    """A token bucket of failed authentications per source address (bounded, LRU)."""

    def __init__(self, rate_per_s: float, burst: int, max_sources: int) -> None:
        self.rate, self.burst, self.max_sources = rate_per_s, float(burst), max_sources
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, source: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = TokenBucket(self.rate, self.burst, self.burst, now)
        self._buckets.move_to_end(source)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return bucket

    def retry_after(self, source: str, now: float) -> int:
        """0 while the source may still try a key, else whole seconds until it may."""
        bucket = self._buckets.get(source)
        return 0 if bucket is None else whole_seconds(bucket.wait(now))

    def record(self, source: str, now: float) -> None:
        self._bucket(source, now).take(now)


@dataclass
class ClientGate:
    """Verifies keys and applies per-client rate limits.

    Verified keys are remembered for ``cache_ttl_s``, bad keys for ``negative_ttl_s`` (no
    database lookup for either while remembered), and each source address may fail only
    so often (``failures``) before it is answered 429 without a lookup.
    """

    sessions: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    failures: FailureLimiter
    cache_ttl_s: float
    negative_ttl_s: float
    max_entries: int = 10_000
    _verified: OrderedDict[str, tuple[ClientIdentity, float]] = field(default_factory=OrderedDict)
    _refused: ExpiringSet = field(init=False)

    def __post_init__(self) -> None:
        self._refused = ExpiringSet(self.max_entries)

    async def authenticate(self, api_key: str | None, source: str) -> ClientIdentity:
        if not api_key:
            raise Unauthorized(f"missing {API_KEY_HEADER} header", headers=_CHALLENGE)
        # Lookup by the key's SHA-256: the comparison happens on hashes inside the index,
        # so response time says nothing about how close a guess was.
        key_hash = hash_api_key(api_key)
        now = time.monotonic()
        cached = self._verified.get(key_hash)
        if cached is not None and cached[1] > now:
            return cached[0]
        wait = self.failures.retry_after(source, now)
        if wait:
            raise RateLimited(f"too many failed authentications from this address; retry in "
                              f"{wait} s", headers={"Retry-After": str(wait)})
        client = None
        if key_hash not in self._refused:
            async with self.sessions() as session:
                client = await client_for_key_hash(session, key_hash)
        if client is None:
            self.failures.record(source, now)
            if self.negative_ttl_s > 0:
                self._refused.add(key_hash, self.negative_ttl_s)
            raise Unauthorized("unknown or revoked API key", headers=_CHALLENGE)
        if self.cache_ttl_s > 0:
            self._verified[key_hash] = (client, now + self.cache_ttl_s)
            while len(self._verified) > self.max_entries:
                self._verified.popitem(last=False)
        return client

    def admit(self, client: ClientIdentity) -> None:
        wait = self.limiter.retry_after(client, time.monotonic())
        if wait:
            raise RateLimited(f"client {client.name!r} exceeded its request rate; "
                              f"retry in {wait} s", headers={"Retry-After": str(wait)})

    def forget(self) -> None:
        """Drop every remembered verification and refusal (as if the TTLs had passed)."""
        self._verified.clear()
        self._refused.clear()


async def install_api_keys(runtime, scopes: Iterable[str]) -> ClientGate:
    """Build the service's gate from its :class:`ApiKeySettings` (called from ``wire``).

    With ``dev_api_key`` set, a client ``local-dev`` holding every one of ``scopes`` is
    (re)created with that key.
    """
    settings: ApiKeySettings = runtime.settings
    client_gate = ClientGate(
        sessions=runtime.sessions,
        limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        failures=FailureLimiter(settings.auth_failure_rate_per_s, settings.auth_failure_burst,
                                settings.auth_cache_max_entries),
        cache_ttl_s=settings.auth_cache_ttl_s,
        negative_ttl_s=settings.auth_negative_cache_ttl_s,
        max_entries=settings.auth_cache_max_entries)
    runtime.extras[GATE] = client_gate
    if settings.dev_api_key:
        await ensure_dev_client(runtime.sessions, settings.dev_api_key, scopes)
    return client_gate


def gate(request: Request) -> ClientGate:
    return request.app.state.runtime.extras[GATE]


async def admitted(client_gate: ClientGate, api_key: str | None,
                   source: str) -> ClientIdentity:
    """The client holding ``api_key``, authenticated and within its rate."""
    client = await client_gate.authenticate(api_key, source)
    client_gate.admit(client)
    return client


def peer_of(scope) -> str:
    # The peer address as the ASGI server reports it (behind a proxy, run uvicorn with
    # --proxy-headers and --forwarded-allow-ips so this is the caller, not the proxy).
    client = scope.get("client")
    return client[0] if client else "unknown"


async def current_client(request: Request,
                         api_key: Annotated[str | None, Security(api_key_header)]
                         ) -> ClientIdentity:
    """The calling client, authenticated and within its rate."""
    return await admitted(gate(request), api_key, peer_of(request.scope))


CurrentClient = Annotated[ClientIdentity, Depends(current_client)]
