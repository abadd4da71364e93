"""A local SMTP sink: ``python -m warden.notify.smtp_sink`` (started by ``make run``).

A real SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message and writes one JSON line
per message to stdout — who it is for, its subject, Message-ID and language, never its body::

    {"received_at": "...", "mail_from": "...", "to": ["..."], "subject": "...",
     "message_id": "<...@warden.notify>", "notice": "reporter_receipt", "language": "de",
     "bytes": 2345}

Tests use ``RecordingHandler`` with aiosmtpd's ``Controller`` to read what was sent.
Environment: ``WARDEN_SMTP_SINK_HOST`` (127.0.0.1), ``WARDEN_SMTP_SINK_PORT`` (8025).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    to: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


@dataclass
class RecordingHandler:
    """An aiosmtpd handler keeping every message; ``refuse_with`` answers RCPT with an SMTP
    reply instead (e.g. ``"550 5.1.1 no such user"``)."""

    received: list[Received] = field(default_factory=list)
    refuse_with: str | None = None
    emit: Callable[[str], None] | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        message = message_from_bytes(raw, policy=policy.default)
        received = Received(mail_from=envelope.mail_from or "", to=list(envelope.rcpt_tos),
                            message=message)  # type: ignore[arg-type]
        self.received.append(received)
        if self.emit:
            self.emit(json.dumps(summary(received, len(raw)), ensure_ascii=False))
        return "250 Message accepted for delivery"


def summary(received: Received, size: int) -> dict[str, Any]:
    """The log line of one message: addressing and headers, never its text."""
    message = received.message
    return {"received_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "mail_from": received.mail_from, "to": received.to,
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")),
            "notice": str(message.get("X-Warden-Notice", "")),
            "language": str(message.get("Content-Language", "")), "bytes": size}


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = RecordingHandler(emit=lambda line: print(line, flush=True))
    # Keep nothing in memory in the long-running sink: it only logs.
    handler.received = _Discard()  # type: ignore[assignment]
    server = await loop.create_server(lambda: SMTP(handler, hostname="warden-smtp-sink"),
                                      host=host, port=port)
    print(f"SMTP sink listening on smtp://{host}:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


class _Discard(list):
    def append(self, item: Any) -> None:  # noqa: D102 - a list that keeps nothing
        return None


def main() -> None:
    host = os.environ.get("WARDEN_SMTP_SINK_HOST", "127.0.0.1")
    port = int(os.environ.get("WARDEN_SMTP_SINK_PORT", "8025"))
    asyncio.run(serve(host, port))


if __name__ == "__main__":
    main()
