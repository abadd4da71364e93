"""What a handler is given: the parsed record, its session, and the record's trace context
(span and correlation id), current while it is handled or while a line is logged about it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.contracts.envelope import CloudEvent
from warden.shared.observability import correlation_id_var
from warden.shared.tracing import consuming, in_trace_of


@dataclass
class Incoming:
    """A parsed record: what handlers receive, together with the open session."""

    event_id: str
    type: str
    payload: Any
    record: ConsumerRecord
    event: CloudEvent | None = None


@dataclass
class Delivery:
    session: AsyncSession
    message: Incoming
    service: str = ""
    in_scope: bool = True  # the runner already opened this record's span and correlation id

    @property
    def event(self) -> CloudEvent:
        assert self.message.event is not None
        return self.message.event

    @property
    def payload(self) -> Any:
        return self.message.payload

    def scope(self) -> contextlib.AbstractContextManager[None]:
        """This record's consumer span and correlation id, for the part of a batch handler
        that works on it (what it stages in the outbox carries them on)."""
        if self.in_scope:
            return contextlib.nullcontext()
        return RecordScope(self.service, self.message)


class RecordScope:
    """A record's correlation id and consumer span, current for a with-block (a plain object:
    entered once per record on the hot path)."""

    __slots__ = ("_message", "_span", "_token")

    def __init__(self, service: str, message: Incoming) -> None:
        self._message = message
        self._span = consuming(service, topic=message.record.topic, event_type=message.type,
                               event_id=message.event_id, traceparent=_traceparent(message))

    def __enter__(self) -> None:
        event = self._message.event
        self._token = correlation_id_var.set(event.correlationid if event else None)
        try:
            self._span.__enter__()
        except BaseException:
            correlation_id_var.reset(self._token)
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._span.__exit__(exc_type, exc, tb)
        finally:
            correlation_id_var.reset(self._token)


Handler = Callable[[Delivery], Awaitable[None]]
# Handles a run of claimed records of one type together, in the caller's transaction.
BatchHandler = Callable[[AsyncSession, list[Delivery]], Awaitable[None]]
Parser = Callable[[ConsumerRecord], Incoming]


def parse_cloudevent(record: ConsumerRecord) -> Incoming:
    event = CloudEvent.from_bytes(record.value)
    return Incoming(event_id=event.id, type=event.type, payload=None, record=record, event=event)


def _traceparent(message: Incoming) -> str | None:
    """The producer's trace context: the envelope's, else a ``traceparent`` record header
    (plain JSON from upstream systems)."""
    if message.event is not None and message.event.traceparent:
        return message.event.traceparent
    header = dict(message.record.headers or []).get("traceparent")
    return header.decode("latin-1") if header else None


@contextlib.contextmanager
def about(record: ConsumerRecord):
    """Log lines about ``record`` written outside its handler (retries, dead-lettering) carry
    its correlation id and trace id, read from its envelope or else its headers. Only the
    failure paths pay for this: the handler's own span and correlation id cover the rest."""
    headers = {key.lower(): value for key, value in record.headers or []}
    correlation = headers.get("x-correlation-id") or headers.get("correlation-id")
    cid = correlation.decode("latin-1") if correlation else None
    traceparent = headers["traceparent"].decode("latin-1") if "traceparent" in headers else None
    try:
        event = CloudEvent.from_bytes(record.value)
    except Exception:  # noqa: BLE001 - not an envelope (or not even JSON): the headers' ids
        pass
    else:
        cid, traceparent = event.correlationid or cid, event.traceparent or traceparent
    token = correlation_id_var.set(cid)
    try:
        with in_trace_of(traceparent):
            yield
    finally:
        correlation_id_var.reset(token)
