"""OpenTelemetry tracing across HTTP and Kafka hops.

Every service has its own tracer provider (resource ``service.name``), so several services
in one process (tests) stay apart. HTTP server spans come from the project's FastAPI
instrumentation; every event a service emits carries the W3C ``traceparent`` of the span
it was created in (see ``contracts.envelope.new_event``), and every consumer handles an
event inside a span whose parent is that ``traceparent``. So one trace runs from intake's
request through routing, decision and notify.

Spans are exported over OTLP/HTTP only when ``WARDEN_OTLP_ENDPOINT`` is set; otherwise they
are still created (trace ids in the logs and in the events) and dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_LOWER_HEX = frozenset("0123456789abcdef")
_providers: dict[str, TracerProvider] = {}
_tracers: dict[tuple[str, str], trace.Tracer] = {}


def tracer_provider(service: str) -> TracerProvider:
    """The service's provider (created without an exporter until ``configure_tracing``)."""
    provider = _providers.get(service)
    if provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": f"warden-{service}",
                                                            "service.namespace": "warden"}))
        _providers[service] = provider
    return provider


def _tracer(service: str, name: str) -> trace.Tracer:
    """The service's tracer for ``name``, made once (``get_tracer`` builds a new one per call,
    which costs more than the span on the consumers' hot path)."""
    tracer = _tracers.get((service, name))
    if tracer is None:
        tracer = _tracers[(service, name)] = tracer_provider(service).get_tracer(name)
    return tracer


def configure_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider:
    """Attach the OTLP exporter when an endpoint is configured (once per service)."""
    provider = tracer_provider(service)
    if otlp_endpoint and not getattr(provider, "_warden_exporting", False):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        provider._warden_exporting = True  # noqa: SLF001 - our own marker
    return provider


def shutdown_tracing(service: str) -> None:
    """Flush what is buffered (on service shutdown)."""
    provider = _providers.get(service)
    if provider is not None:
        provider.force_flush(5000)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as hex, for log lines."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


def remote_parent(traceparent: str | None) -> otel_context.Context | None:
    """The context whose current span is the producer's, from its W3C ``traceparent``; None
    (a new trace) without one or for one that does not parse. A version-00 header is read by
    hand (the propagator's regular expressions cost a fifth of a consumer span); any other
    version goes through the propagator."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) == 4 and parts[0] == "00" and len(parts[1]) == 32 and len(parts[2]) == 16 \
            and len(parts[3]) == 2:
        if not _LOWER_HEX.issuperset(parts[1] + parts[2] + parts[3]):
            return None  # W3C: lower-case hex only (the propagator refuses the rest too)
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
        if not trace_id or not span_id:
            return None
        return trace.set_span_in_context(NonRecordingSpan(SpanContext(
            trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))))
    extracted = _propagator.extract({"traceparent": traceparent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


class CurrentSpan:
    """A span started on entry and made current until exit, where it records an escaping
    exception and ends: ``start_as_current_span`` as one plain object instead of three nested
    generator context managers (a consumer opens one per record, on the hot path)."""

    __slots__ = ("_tracer", "_name", "_kind", "_parent", "_attributes", "_span", "_token")

    def __init__(self, tracer: trace.Tracer, name: str, *, kind: SpanKind,
                 parent: otel_context.Context | None, attributes: dict[str, str]) -> None:
        self._tracer, self._name, self._kind = tracer, name, kind
        self._parent, self._attributes = parent, attributes

    def __enter__(self) -> trace.Span:
        self._span = self._tracer.start_span(self._name, context=self._parent, kind=self._kind,
                                             attributes=self._attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None and self._span.is_recording():
                self._span.record_exception(exc)
                self._span.set_status(Status(StatusCode.ERROR, f"{exc_type.__name__}: {exc}"))
        finally:
            otel_context.detach(self._token)
            self._span.end()


def consuming(service: str, *, topic: str, event_type: str, event_id: str,
              traceparent: str | None) -> CurrentSpan:
    """A consumer span for one event, continuing the trace its producer started (``with``)."""
    # No traceparent (an upstream producer that sends none): the span starts a new trace.
    return CurrentSpan(
        _tracer(service, "warden.bus"), f"{topic} process", kind=SpanKind.CONSUMER,
        parent=remote_parent(traceparent),
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                    "messaging.operation.type": "process", "messaging.message.id": event_id,
                    "cloudevents.event_type": event_type})


@contextmanager
def in_trace_of(traceparent: str | None) -> Iterator[None]:
    """Make a producer's trace context current without starting a span: log lines written
    about an event outside its handler's span (retries, dead-lettering) name its trace."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(_propagator.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def working(service: str, name: str, **attributes: str) -> Iterator[trace.Span]:
    """An internal span for background work (not a request, not a consumed event), so that
    its log lines carry a trace id too."""
    tracer = _tracer(service, "warden.work")
    with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL,
                                      attributes=attributes) as span:
        yield span


def continuing(service: str, name: str, *, traceparent: str | None,
               kind: SpanKind = SpanKind.INTERNAL, **attributes: str) -> trace.Span:
    """A span that continues the trace of ``traceparent`` (a new trace without one), started
    but not made current: work that begins in one task and ends in another (a delivery sent,
    then recorded in a batch) enters it with ``trace.use_span(span)`` and ends it there."""
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    tracer = tracer_provider(service).get_tracer("warden.work")
    return tracer.start_span(name, kind=kind, context=parent, attributes=attributes)
