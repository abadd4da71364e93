"""``POST /v1/reports`` as a lean ASGI handler: the hot path without the framework's layers.

py-spy on one intake worker under wrk put about a third of each request's CPU in FastAPI's
per-request machinery between the middleware and the endpoint: routing, dependency solving,
the exception layers and their wrappers, none of which this one endpoint needs. This
handler answers exactly as the FastAPI route in ``routes.py`` would (that route still
documents the endpoint in OpenAPI, and serves it when ``fast_submit`` is off):

* the same order of checks: the body's JSON, the API key and the client's rate, then the
  ``Idempotency-Key`` header and the report together (validated by the route's own fields,
  so the 422 lists the same problems), then the client's scope for the channel;
* the same answers: the report (201 with ``Location``, or 200 ``Idempotent-Replayed`` on a
  resend) and the same problem documents from the one mapping in ``warden.shared.problems``.

It sits inside the request-context middleware and ``BodyGuard``, so correlation ids, the
request metrics (by route template), the body limits and OpenTelemetry's server span are
those of every other route.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.routing import APIRoute
from pydantic_core import PydanticUndefined
from starlette.datastructures import Headers

from warden.intake.routes import REPLAYED_HEADER, ReportOut, invalid_input, router
from warden.intake.service import accept_one
from warden.intake.submissions import SUBMISSIONS
from warden.shared.apikeys.gate import API_KEY_HEADER, GATE, admitted, peer_of
from warden.shared.clock import utcnow
from warden.shared.problems import document_response, exception_problem

SUBMIT_PATH = "/v1/reports"
JSON_TYPE = b"application/json"


class _Invalid(Exception):
    """Field problems in FastAPI's shape (``loc``, ``msg``, ``type``), answered with 422."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid input")
        self.errors = errors


class FastSubmit:
    def __init__(self, app) -> None:
        self.app = app
        self._route: APIRoute | None = None

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["path"] != SUBMIT_PATH
                or scope["method"] != "POST"):
            await self.app(scope, receive, send)
            return
        route = scope["route"] = self._route or self._find_route()
        try:
            status, headers, body = await _submit(scope, receive, route)
        except _Invalid as exc:
            await document_response(invalid_input(exc.errors, scope["path"]))(scope, receive, send)
            return
        except Exception as exc:  # noqa: BLE001 - every error answers with its problem document
            await document_response(*exception_problem(exc, scope["path"]))(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _find_route(self) -> APIRoute:
        """The FastAPI route this handler stands in for: its fields validate the request."""
        for route in router.routes:
            if (isinstance(route, APIRoute) and route.path == SUBMIT_PATH
                    and "POST" in route.methods):
                self._route = route
                return route
        raise LookupError(f"no POST {SUBMIT_PATH} route to stand in for")


async def _submit(scope, receive, route: APIRoute) -> tuple[int, list, bytes]:
    payload = _json(await _body(receive))
    runtime = scope["app"].state.runtime
    headers = Headers(scope=scope)
    client = await admitted(runtime.extras[GATE], headers.get(API_KEY_HEADER), peer_of(scope))
    params, errors = request_params_to_args(route.dependant.header_params, headers)
    values, body_errors = await request_body_to_args(route.dependant.body_params, payload,
                                                     embed_body_fields=False)
    if errors or body_errors:
        raise _Invalid([*errors, *body_errors])
    outcome = await accept_one(runtime.extras[SUBMISSIONS], runtime.sessions, runtime.outbox,
                               client, values["report"],
                               idempotency_key=params.get("idempotency_key"),
                               received_at=utcnow())
    body = ReportOut.of(outcome.report, duplicate=outcome.duplicate,
                        report=outcome.normalized).model_dump_json().encode()
    if outcome.duplicate:
        return 200, [(b"content-type", JSON_TYPE), (REPLAYED_HEADER.lower().encode(), b"true")], body
    location = f"/v1/reports/{outcome.report.id}".encode()
    return 201, [(b"content-type", JSON_TYPE), (b"location", location)], body


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _json(body: bytes) -> Any:
    """The body as FastAPI reads it: nothing when empty, 422 ``json_invalid`` when not JSON."""
    if not body:
        return PydanticUndefined
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise _Invalid([{"type": "json_invalid", "loc": ("body", exc.pos),
                         "msg": "JSON decode error", "input": {},
                         "ctx": {"error": exc.msg}}]) from exc
