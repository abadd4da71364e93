"""The services' JSON log lines as a test reads them: a second handler on the root logger
with the formatter ``configure_logging`` installed (so the lines are exactly those written
to stdout, every processor included)."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

# Loggers of work that belongs to no request and no event (periodic passes, the relay), and
# the test's own HTTP client.
BACKGROUND = ("warden.shared.periodic", "warden.shared.bus.outbox", "warden.routing.workers",
              "aiokafka", "kafka", "uvicorn", "httpx")


class LogLines:
    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines()
                if line.startswith("{")]

    def named(self, event: str) -> list[dict]:
        return [e for e in self.entries() if e.get("event") == event]

    def of_requests_and_events(self) -> list[dict]:
        return [e for e in self.entries() if not str(e.get("logger", "")).startswith(BACKGROUND)]


@contextmanager
def log_lines() -> Iterator[LogLines]:
    root = logging.getLogger()
    # configure_logging's handler (pytest adds capturing handlers of its own beside it).
    [stdout] = [h for h in root.handlers
                if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(stdout.formatter)
    for log_filter in stdout.filters:
        handler.addFilter(log_filter)
    root.addHandler(handler)
    try:
        yield LogLines(buffer)
    finally:
        root.removeHandler(handler)


def new_traceparent() -> tuple[str, str]:
    """A W3C traceparent of a fresh trace, and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def assert_every_line_names(lines: list[dict], correlation_id: str, trace_id: str) -> None:
    assert lines, "no log line to check"
    for entry in lines:
        assert entry.get("correlation_id") == correlation_id, entry
        assert entry.get("trace_id") == trace_id, entry
