"""HTTP for the channels: one small client per receiving origin, and failures under names of
their own (what an attempt's ``last_error`` says does not depend on the library).

aiohttp, not httpx: a signed webhook POST costs ≈ 0.3 ms of CPU with it against ≈ 4.3 ms with
httpx on this box (docs/performance.md), and delivery is notify's largest cost per report.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

USER_AGENT = "Warden-Webhooks/1.0"
# A receiver's answer is a status and a short document; more is not read (nor kept).
MAX_ANSWER_BYTES = 256 * 1024
# Below the idle timeout of common servers (uvicorn and Node 5 s): a connection the receiver
# is about to close is not picked for the next request.
KEEPALIVE_S = 4.0


class RequestFailed(Exception):
    """The request got no HTTP answer."""


class ConnectError(RequestFailed):
    """No connection to the receiver (refused, unreachable, name not found, TLS refused)."""


class ResponseTimeout(RequestFailed):
    """Connected, but no whole answer within the delivery timeout."""


class ProtocolError(RequestFailed):
    """The receiver closed the connection or answered something that is not HTTP."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class _Origin:
    session: aiohttp.ClientSession
    free: asyncio.Semaphore


class HttpClients:
    """One client per receiving origin (scheme, host, port), each with its own few
    connections: a slow receiver holds only its own connections, never another's."""

    def __init__(self, *, connections: int, timeout_s: float) -> None:
        self._connections = connections
        self._timeout_s = timeout_s
        self._origins: dict[tuple[str, str, int | None], _Origin] = {}

    def _origin(self, url: str) -> _Origin:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        origin = self._origins.get(key)
        if origin is None:
            connector = aiohttp.TCPConnector(limit=self._connections,
                                             keepalive_timeout=KEEPALIVE_S)
            origin = self._origins[key] = _Origin(
                session=aiohttp.ClientSession(connector=connector,
                                              headers={"user-agent": USER_AGENT},
                                              timeout=aiohttp.ClientTimeout(total=None)),
                free=asyncio.Semaphore(self._connections))
        return origin

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST and read the answer; raises a ``RequestFailed`` when there is none. A send
        waits for one of its origin's connections without a deadline: only the receiver's
        own time counts against it (the lease outlasts the wait)."""
        origin = self._origin(url)
        async with origin.free:
            try:
                async with asyncio.timeout(self._timeout_s):
                    # A redirect is not a delivery: the operator fixes the endpoint.
                    async with origin.session.post(url, data=body, headers=headers,
                                                   allow_redirects=False) as response:
                        return Answer(response.status, await _read_capped(response))
            except TimeoutError:
                raise ResponseTimeout(f"no answer within {self._timeout_s:g} s") from None
            except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
                raise ConnectError(str(exc)) from None
            except aiohttp.ClientError as exc:
                raise ProtocolError(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        origins, self._origins = list(self._origins.values()), {}
        for origin in origins:
            await origin.session.close()


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body up to ``MAX_ANSWER_BYTES`` (a longer one is cut and its connection
    not reused)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) >= MAX_ANSWER_BYTES:
            return bytes(body[:MAX_ANSWER_BYTES])
    return bytes(body)
