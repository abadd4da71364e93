"""The webhook receiver of the run: a real HTTP server on 127.0.0.1:8199 that can go down.

It checks every Standard Webhooks signature (with its own code, not notify's) and keeps
what arrived, so the ledger can tell a webhook delivered once from one delivered twice
(two notifications for one decision) or resent (one ``webhook-id`` more than once, which a
receiver is expected to absorb).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

RECEIVER_PORT = 8199


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    except (KeyError, ValueError):
        return False
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split()
               if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    decision_id: str | None
    audience: str
    event_type: str | None
    at: float
    recipient: str | None = None   # one decision tells each reporter of its reports


def audience_of(path: str, document: dict) -> str:
    """Who a webhook is for: the payload's audience or recipient when it names one, else the
    receiver path (one endpoint per path)."""
    for key in ("audience", "recipient"):
        if isinstance(document.get(key), str):
            return document[key]
    return path


def decision_id_of(document: dict) -> str | None:
    """The decision a webhook tells of: in the raw event it carries (subscribers), or in the
    facts of a notice written for a person (``data``: affected party, reporter, authority)."""
    event = document.get("event") if isinstance(document.get("event"), dict) else {}
    for data in (event.get("data"), document.get("data")):
        if isinstance(data, dict) and data.get("decision_id"):
            return str(data["decision_id"])
    value = document.get("decision_id")
    return str(value) if value else None


@dataclass
class Receiver:
    secret: str
    port: int = RECEIVER_PORT
    webhooks: list[Webhook] = field(default_factory=list)
    bad_signatures: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    @property
    def up(self) -> bool:
        return self._server is not None

    async def _receive(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:
            # The sender went away mid-request (notify killed or restarted): nothing arrived.
            return Response(status_code=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not signature_valid(self.secret, headers, body):
            self.bad_signatures += 1
            return Response(status_code=401)
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        document = document if isinstance(document, dict) else {}
        self.webhooks.append(Webhook(
            webhook_id=headers["webhook-id"], decision_id=decision_id_of(document),
            audience=audience_of(request.url.path, document), event_type=document.get("type"),
            at=time.time(), recipient=document.get("recipient")
            if isinstance(document.get("recipient"), str) else None))
        return Response(status_code=204)

    async def start(self) -> None:
        """Serve in a thread of its own, with its own event loop: the suite's counting (which
        can keep the main loop busy for seconds on a loaded box) must not slow the answers
        down, or notify's timeouts and circuit breaker would be measuring the suite."""
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                               log_level="warning", lifespan="off"))
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as exc:  # noqa: BLE001 - reported by start()
                failure.append(exc)

        thread = threading.Thread(target=serve, name="chaos-receiver", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                if failure:
                    raise failure[0]
                raise RuntimeError(f"webhook receiver could not listen on {self.port}")
            await asyncio.sleep(0.05)
        self._server, self._thread = server, thread

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
        self._server, self._thread = None, None
