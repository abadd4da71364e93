"""Request-body guard (pure ASGI): 415 for a body that is not JSON, 413 for one too large,
422 for one that is not UTF-8 (RFC 8259 JSON always is).

It runs before the framework reads the body, so the application only ever sees bodies within
the limit. A refused body is still read to its end (and thrown away) up to ``DRAIN_FACTOR``
times the limit before the answer goes out: a server that answers and closes while the client
is still sending makes the client's TCP stack see a reset instead of the 413 or 415. A client
that sent ``Expect: 100-continue`` is answered at once and never sends the body at all.
"""

from __future__ import annotations

from typing import Any

from warden.shared.problems import send_problem as _problem

Scope = dict[str, Any]
Message = dict[str, Any]
BODY_METHODS = {"POST", "PUT", "PATCH"}
DRAIN_FACTOR = 4


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json"))


class BodyGuard:
    def __init__(self, app, *, max_bytes: int, path_prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] not in BODY_METHODS
                or not scope["path"].startswith(self.path_prefix)):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        declared = headers.get(b"content-length")
        waits_for_continue = headers.get(b"expect", b"").lower() == b"100-continue"
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            if not waits_for_continue and declared.isdigit():
                await self._discard_body(receive)
            await self._too_large(scope, send)
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not is_json_media_type(content_type):
            if not waits_for_continue:
                await self._discard_body(receive)
            await _problem(scope, send, 415, "Unsupported media type",
                           f"send the report as application/json, not {content_type or 'nothing'}",
                           "unsupported-media-type")
            return
        buffered, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                if message.get("more_body", False):
                    await self._discard_body(receive, already=total)
                await self._too_large(scope, send)
                return
            buffered.append(message)
            if not message.get("more_body", False):
                break

        if not _is_utf8(b"".join(m.get("body", b"") for m in buffered)):
            await _problem(scope, send, 422, "Invalid input", "the body is not UTF-8 encoded "
                           "JSON (RFC 8259)", "invalid-input",
                           errors=[{"field": "body", "message": "not UTF-8", "type": "encoding"}])
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _discard_body(self, receive, already: int = 0) -> None:
        """Read what the client still sends, up to the drain limit, so it can read our answer."""
        total = already
        while total <= self.max_bytes * DRAIN_FACTOR:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                return
            total += len(message.get("body", b""))

    async def _too_large(self, scope: Scope, send) -> None:
        await _problem(scope, send, 413, "Payload too large",
                       f"the request body exceeds {self.max_bytes} bytes", "payload-too-large")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
