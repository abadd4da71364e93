"""One trace across the four services, as processes, collected by a real OTLP receiver.

The services export spans over OTLP/HTTP to a receiver in the test (the same protocol an
OpenTelemetry Collector speaks); the test reads the events off the topics as well, and the
services' JSON logs.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.harness import (
    DEV_API_KEY,
    REVIEWER_SECRET,
    SERVICES,
    LocalServer,
    Receiver,
    running_services,
)
from tests.support.apps import eventually
from tests.support.kafka import read_events
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts import topics
from warden.shared.lease_tokens import HEADER as LEASE_TOKEN

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    name: str
    kind: int


class OtlpReceiver(LocalServer):
    """OTLP/HTTP protobuf trace receiver (what a collector would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[Span] = []

    def routes(self) -> list[Route]:
        return [Route("/v1/traces", self._traces, methods=["POST"])]

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                self.spans.extend(Span(attributes.get("service.name", "?"), s.trace_id.hex(),
                                       s.name, s.kind) for s in scope.spans)
        return Response(ExportTraceServiceResponse().SerializeToString(),
                        media_type="application/x-protobuf")

    def services_in(self, trace_id: str) -> dict[str, list[str]]:
        found = defaultdict(list)
        for span in self.spans:
            if span.trace_id == trace_id:
                found[span.service].append(span.name)
        return found


@pytest.fixture
async def traced_system(infra, topic_prefix, make_database, tmp_path):
    collector, webhooks = OtlpReceiver(), Receiver()
    await collector.start()
    await webhooks.start()
    exporting = {"WARDEN_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
                 "OTEL_BSP_SCHEDULE_DELAY": "200"}
    try:
        async with running_services(infra, topic_prefix, make_database, tmp_path, webhooks,
                                    exporting) as processes:
            async with httpx.AsyncClient(timeout=10) as client:
                yield processes, collector, client
    finally:
        await webhooks.stop()
        await collector.stop()


def trace_id_of(traceparent: str | None) -> str:
    assert traceparent and traceparent.startswith("00-"), traceparent
    return traceparent.split("-")[1]


async def test_one_trace_from_intakes_request_to_notifys_delivery(traced_system, infra,
                                                                   topic_prefix):
    processes, collector, client = traced_system
    intake, routing, decision = (processes[n].url for n in ("intake", "routing", "decision"))
    reviewer = {"Authorization": "Bearer " + issue_reviewer_token(
        REVIEWER_SECRET, "alice", ["hate_harassment"], ["reviewer"])}
    content_id = f"post-{uuid.uuid4().hex[:8]}"
    submitted = await client.post(f"{intake}/v1/reports", headers={"X-API-Key": DEV_API_KEY},
                                  json={"channel": "user", "reporter": {"account_id": "u-1"},
                                        "content": {"type": "content", "id": content_id},
                                        "reason": "hate_speech", "text": "attacks a group"})
    assert submitted.status_code == 201, submitted.text

    # The event intake emitted carries its request's trace; routing's event continues it.
    [normalized] = await read_events(infra.kafka, f"{topic_prefix}{topics.REPORTS_NORMALIZED}",
                                     expect=1)
    trace_id = trace_id_of(normalized.traceparent)
    [routed] = await read_events(infra.kafka, f"{topic_prefix}{topics.CASES_ROUTED}", expect=1)
    assert trace_id_of(routed.traceparent) == trace_id

    # A reviewer tool that forwards the case's traceparent keeps the decision in the trace.
    claimed = await client.post(f"{routing}/v1/queues/hate_harassment/claim", headers=reviewer)
    assert claimed.status_code == 200, claimed.text
    case_id, lease_token = claimed.json()["id"], claimed.json()["lease_token"]

    async def decide():
        response = await client.post(
            f"{decision}/v1/cases/{case_id}/decisions",
            headers={**reviewer, LEASE_TOKEN: lease_token, "traceparent": routed.traceparent},
            json={"actions": [{"code": "remove"}], "policy_id": "CS-HATE-1",
                  "facts": "A post attacking a religious group.",
                  "reasoning": "Attacks a protected group."})
        return response if response.status_code != 404 else None
    decided = await eventually(decide, what="decision to know the routed case")
    assert decided.status_code == 201, decided.text
    [recorded] = await read_events(infra.kafka, f"{topic_prefix}{topics.DECISIONS_RECORDED}",
                                   expect=1)
    assert trace_id_of(recorded.traceparent) == trace_id

    # Each process exports its spans on its own schedule: wait for every span asserted below
    # (notify's delivery can be exported before decision's request span).
    expected = [("warden-intake", lambda n: n.startswith("POST /v1/reports")),
                ("warden-routing", lambda n: "reports.normalized process" in n),
                ("warden-decision", lambda n: "cases.routed process" in n),
                ("warden-decision", lambda n: n.startswith("POST /v1/cases")),
                ("warden-notify", lambda n: "decisions.recorded" in n),
                ("warden-notify", lambda n: n == "notification deliver")]

    async def every_service_reported():
        found = collector.services_in(trace_id)
        return found if all(any(map(wanted, found[service]))
                            for service, wanted in expected) else None
    found = await eventually(every_service_reported, timeout=30,
                             what="spans of all four services in one trace, up to the delivery")
    assert set(found) >= {f"warden-{s}" for s in SERVICES}, found
    # The webhook for the decision continues that trace: its delivery span (and its log line
    # and outcome event) are in it, not in a trace of their own.
    assert "notification deliver" in found["warden-notify"], found
    told = await read_events(infra.kafka, f"{topic_prefix}{topics.NOTIFICATIONS_DELIVERED}",
                             expect=1)
    assert {trace_id_of(e.traceparent) for e in told} == {trace_id}

    # Logs: every line written while handling a request or an event carries both ids, and
    # notify's line about this decision names the trace.
    for name, process in processes.items():
        for line in process.log.read_text().splitlines():
            if line.startswith("{") and '"correlation_id"' in line:
                entry = json.loads(line)
                assert "trace_id" in entry, (name, line)
    notify_lines = [json.loads(x) for x in processes["notify"].log.read_text().splitlines()
                    if '"notifications_queued"' in x]
    assert any(x.get("trace_id") == trace_id and x.get("correlation_id") for x in notify_lines)
    attempts = [json.loads(x) for x in processes["notify"].log.read_text().splitlines()
                if '"webhook_attempt"' in x]
    assert any(x.get("trace_id") == trace_id for x in attempts), attempts
