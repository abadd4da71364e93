"""Authenticating upstream clients by API key and rate-limiting them (FastAPI dependencies)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.apikeys.keys import ClientIdentity, RateLimiter, hash_api_key
from warden.shared.apikeys.settings import ApiKeySettings
from warden.shared.apikeys.store import client_for_key_hash, ensure_dev_client
from warden.shared.errors import RateLimited, Unauthorized

API_KEY_HEADER = "X-API-Key"
GATE = "api_keys"  # key of the gate in ``runtime.extras``
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="the client's API key")
_CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}


@dataclass
class ClientGate:
    """Verifies keys (remembering verified ones briefly) and applies per-client rate limits."""

    sessions: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    cache_ttl_s: float
    _verified: dict[str, tuple[ClientIdentity, float]] = field(default_factory=dict)

    async def authenticate(self, api_key: str | None) -> ClientIdentity:
        if not api_key:
            raise Unauthorized(f"missing {API_KEY_HEADER} header", headers=_CHALLENGE)
        # Lookup by the key's SHA-256: the comparison happens on hashes inside the index,
        # so response time says nothing about how close a guess was.
        key_hash = hash_api_key(api_key)
        now = time.monotonic()
        cached = self._verified.get(key_hash)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.sessions() as session:
            client = await client_for_key_hash(session, key_hash)
        if client is None:
            raise Unauthorized("unknown or revoked API key", headers=_CHALLENGE)
        if self.cache_ttl_s > 0:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key_hash] = (client, now + self.cache_ttl_s)
        return client

    def admit(self, client: ClientIdentity) -> None:
        wait = self.limiter.retry_after(client, time.monotonic())
        if wait:
            raise RateLimited(f"client {client.name!r} exceeded its request rate; "
                              f"retry in {wait} s", headers={"Retry-After": str(wait)})

    def forget(self) -> None:
        """Drop every remembered verification (as if ``auth_cache_ttl_s`` had passed)."""
        self._verified.clear()


async def install_api_keys(runtime, scopes: Iterable[str]) -> ClientGate:
    """Build the service's gate from its :class:`ApiKeySettings` (called from ``wire``).

    With ``dev_api_key`` set, a client ``local-dev`` holding every one of ``scopes`` is
    (re)created with that key.
    """
    settings: ApiKeySettings = runtime.settings
    client_gate = ClientGate(
        sessions=runtime.sessions,
        limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        cache_ttl_s=settings.auth_cache_ttl_s)
    runtime.extras[GATE] = client_gate
    if settings.dev_api_key:
        await ensure_dev_client(runtime.sessions, settings.dev_api_key, scopes)
    return client_gate


def gate(request: Request) -> ClientGate:
    return request.app.state.runtime.extras[GATE]


async def current_client(request: Request,
                         api_key: Annotated[str | None, Security(api_key_header)]
                         ) -> ClientIdentity:
    """The calling client, authenticated and within its rate."""
    client_gate = gate(request)
    client = await client_gate.authenticate(api_key)
    client_gate.admit(client)
    return client


CurrentClient = Annotated[ClientIdentity, Depends(current_client)]
