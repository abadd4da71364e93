"""A small local webhook receiver: ``python -m warden.notify.receiver``.

It accepts POSTs on any path (notify's local default is ``http://127.0.0.1:8099/webhooks``),
verifies the Standard Webhooks signature with ``WARDEN_NOTIFY_WEBHOOK_SECRET`` (the same local
default as notify) and writes one JSON line per delivery to stdout::

    {"received_at": "...", "webhook_id": "...", "type": "warden.decision.recorded.v1",
     "signature_valid": true, "summary": {"decision_id": "...", "action": "remove", ...}}

The summary holds identifiers and codes only: no free text (rationales, report texts) is logged.
``GET /healthz`` answers once it listens. It answers 204 to a valid webhook and 401 to an invalid signature, so notify retries and
eventually dead-letters deliveries signed with the wrong secret.

Environment: ``WARDEN_RECEIVER_PORT`` (8099), ``WARDEN_RECEIVER_HOST`` (127.0.0.1),
``WARDEN_NOTIFY_WEBHOOK_SECRET``, ``WARDEN_RECEIVER_TOLERANCE_S`` (300).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from warden.notify.settings import LOCAL_WEBHOOK_SECRET
from warden.notify.signing import ID_HEADER, InvalidSignature, verify

# Identifier-like fields a summary may show; anything else in a payload stays out of the log.
SUMMARY_FIELDS = ("decision_id", "case_id", "report_id", "appeal_id", "notification_id",
                  "action", "status", "queue", "policy_area", "category", "restricts")


class ReceiverSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("WARDEN_RECEIVER_HOST", "host"))
    port: int = Field(8099, validation_alias=AliasChoices("WARDEN_RECEIVER_PORT", "port"))
    secret: str = Field(LOCAL_WEBHOOK_SECRET, validation_alias=AliasChoices(
        "WARDEN_NOTIFY_WEBHOOK_SECRET", "secret"))
    tolerance_s: int = Field(300, validation_alias=AliasChoices("WARDEN_RECEIVER_TOLERANCE_S",
                                                                "tolerance_s"))


def summarise(document: Any) -> dict[str, Any]:
    """Identifiers and codes from a webhook payload, never its free text."""
    if not isinstance(document, dict):
        return {}
    event = document.get("event") if isinstance(document.get("event"), dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    summary: dict[str, Any] = {k: data[k] for k in SUMMARY_FIELDS
                               if isinstance(data.get(k), (str, int, float, bool))}
    subject = data.get("subject")
    if isinstance(subject, dict):
        summary["subject"] = f"{subject.get('type')}:{subject.get('id')}"
    report_ids = data.get("report_ids")
    if isinstance(report_ids, list):
        summary["reports"] = len(report_ids)
    if event.get("id"):
        summary["event_id"] = event["id"]
    return summary


def delivery_line(headers: Any, body: bytes, *, secret: str, now: float,
                  tolerance_s: int) -> dict[str, Any]:
    """The log record of one received webhook (pure: verification and summary)."""
    line: dict[str, Any] = {
        "received_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "webhook_id": headers.get(ID_HEADER),
    }
    try:
        verify(secret, headers, body, now=int(now), tolerance_s=tolerance_s)
        line["signature_valid"] = True
    except InvalidSignature as exc:
        line["signature_valid"] = False
        line["reason"] = str(exc)
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
        line["reason"] = line.get("reason") or "body is not JSON"
    line["type"] = document.get("type") if isinstance(document, dict) else None
    line["summary"] = summarise(document)
    return line


def create_receiver_app(settings: ReceiverSettings | None = None,
                        emit: Callable[[str], None] | None = None) -> FastAPI:
    settings = settings or ReceiverSettings()
    write = emit or (lambda text: print(text, flush=True))
    app = FastAPI(title="Warden webhook receiver (local)", openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/{path:path}")
    async def receive(request: Request) -> Response:
        body = await request.body()
        line = delivery_line(request.headers, body, secret=settings.secret, now=time.time(),
                             tolerance_s=settings.tolerance_s)
        write(json.dumps(line, separators=(",", ":")))
        if not line["signature_valid"]:
            return Response(status_code=401)
        return Response(status_code=204 if line["type"] else 400)

    return app


def main() -> None:
    import uvicorn

    settings = ReceiverSettings()
    print(f"webhook receiver listening on http://{settings.host}:{settings.port}/webhooks",
          file=sys.stderr, flush=True)
    uvicorn.run(create_receiver_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
