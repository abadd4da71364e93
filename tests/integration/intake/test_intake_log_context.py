"""Every log line intake writes about a request or an event names its correlation id and
its trace id: an HTTP request that fails unexpectedly (the 500 is answered inside the
request's context) and a ``reports.raw`` record that goes to the DLQ."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.intake.conftest import signed
from tests.support.apps import eventually
from tests.support.kafka import produce, read_records
from tests.support.logs import assert_every_line_names, log_lines, new_traceparent
from warden.intake.examples import example
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_an_unexpected_error_is_logged_with_the_requests_ids(intake):
    async def broken() -> None:
        raise RuntimeError("a bug")

    # A route of the test's own on the real app (intake has no route that fails on purpose).
    path = f"/test-broken-{uuid.uuid4().hex[:6]}"
    intake.app.add_api_route(path, broken)
    traceparent, trace_id = new_traceparent()
    with log_lines() as logs:
        response = await intake.http.get(path, headers={"X-Correlation-Id": "corr-http-intake",
                                                        "traceparent": traceparent})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:warden:problem:internal"
    assert response.headers["x-correlation-id"] == "corr-http-intake"
    [line] = logs.named("unhandled_error")
    assert "RuntimeError: a bug" in line["exception"]
    assert_every_line_names(logs.of_requests_and_events(), "corr-http-intake", trace_id)


async def test_a_dead_lettered_raw_records_line_carries_its_ids(intake):
    name, auth = await intake.new_client()
    body = example("user")
    del body["reporter"]
    marker = uuid.uuid4().hex
    body["content"]["id"] = f"post-{marker}"
    traceparent, trace_id = new_traceparent()
    wrapped = CloudEvent(source="/upstream/reports", type="com.example.report.filed",
                         data=body, wardenclient=name, correlationid="corr-raw-intake",
                         traceparent=traceparent)
    value = wrapped.to_bytes()
    with log_lines() as logs:
        await produce(intake.kafka, intake.topic(topics.REPORTS_RAW), value,
                      headers=signed(name, auth, value))
        await read_records(intake.kafka, topics.dlq(intake.topic(topics.REPORTS_RAW)),
                           expect=1, timeout=30, where=lambda r: marker.encode() in r.value)

        async def dead_letter_line():
            return logs.named("event_dead_lettered")
        [line] = await eventually(dead_letter_line, what="the dead-letter log line")
    assert "reporter" in line["reason"]
    assert_every_line_names(logs.of_requests_and_events(), "corr-raw-intake", trace_id)
