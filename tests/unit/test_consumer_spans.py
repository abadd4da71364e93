"""A consumer's per-record span, made cheaply: the producer's traceparent read by hand gives the
same parent as the W3C propagator, a bad one starts a new trace, and the span records an
escaping exception and ends, as ``start_as_current_span`` did."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import InvalidMessage
from warden.shared.tracing import CurrentSpan, remote_parent

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def span_context(context):
    return trace.get_current_span(context).get_span_context()


@pytest.mark.parametrize("traceparent", [
    PARENT, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"])
def test_the_parent_read_by_hand_is_the_one_the_propagator_reads(traceparent):
    ours = span_context(remote_parent(traceparent))
    theirs = span_context(TraceContextTextMapPropagator().extract({"traceparent": traceparent}))
    assert (ours.trace_id, ours.span_id, ours.trace_flags, ours.is_remote) == (
        theirs.trace_id, theirs.span_id, theirs.trace_flags, theirs.is_remote)


@pytest.mark.parametrize("traceparent", [
    None, "", "garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",
    "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", "00-abc-def-01",
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"])
def test_a_missing_or_bad_traceparent_starts_a_new_trace(traceparent):
    assert remote_parent(traceparent) is None


def recorded() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_the_span_is_current_inside_continues_the_parent_and_ends_on_exit():
    tracer, exporter = recorded()
    with CurrentSpan(tracer, "t process", kind=SpanKind.CONSUMER,
                     parent=remote_parent(PARENT), attributes={"a": "b"}) as span:
        assert trace.get_current_span() is span
    assert not trace.get_current_span().get_span_context().is_valid
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "t process" and finished.kind is SpanKind.CONSUMER
    assert finished.context.trace_id == int(PARENT.split("-")[1], 16)
    assert finished.parent.span_id == int(PARENT.split("-")[2], 16)
    assert finished.attributes["a"] == "b" and finished.status.status_code is StatusCode.UNSET


def test_an_escaping_exception_is_recorded_on_the_span_and_still_raised():
    tracer, exporter = recorded()
    with pytest.raises(ValueError, match="boom"), CurrentSpan(
            tracer, "t process", kind=SpanKind.CONSUMER, parent=None, attributes={}):
        raise ValueError("boom")
    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "ValueError: boom"
    assert [e.name for e in finished.events] == ["exception"]
    assert not trace.get_current_span().get_span_context().is_valid


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe", "not JSON"), (b"[1, 2]", "not an object"), (b"{nope", "not JSON"),
    (b'{"specversion": "1.0", "type": "x"}', "not a CloudEvent")])
def test_an_envelope_that_fails_the_one_pass_parse_still_says_why(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        CloudEvent.from_bytes(raw)
