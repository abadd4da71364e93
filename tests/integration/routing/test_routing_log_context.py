"""Every log line routing writes about a request or an event names its correlation id and
its trace id: a request's (HTTP) and a consumed event's (Kafka), the failure paths included
(retries and the dead-letter line are written outside the handler's span)."""

from __future__ import annotations

import uuid

from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from tests.support.kafka import read_records
from tests.support.logs import assert_every_line_names, log_lines, new_traceparent
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import REPORT_NORMALIZED_V1


async def test_a_requests_log_lines_carry_its_correlation_and_trace_ids(routing_app,
                                                                       policy_file):
    policy_file.write_text(policy_file.read_text().replace('version: "2026.12.1"',
                                                           'version: "2026.12.2"'))
    traceparent, trace_id = new_traceparent()
    with log_lines() as logs:
        response = await routing_app.client.post(
            "/v1/policy/reload", headers={**routing_app.auth("lead-1", roles=["lead"]),
                                          "X-Correlation-Id": "corr-http-routing",
                                          "traceparent": traceparent})
        assert response.status_code == 200, response.text
    assert response.headers["x-correlation-id"] == "corr-http-routing"
    assert logs.named("routing_policy_reloaded")
    assert_every_line_names(logs.of_requests_and_events(), "corr-http-routing", trace_id)


async def test_an_events_log_lines_carry_its_ids_also_when_it_is_dead_lettered(routing_app):
    report = make_report()
    traceparent, trace_id = new_traceparent()
    first = new_event(type=REPORT_NORMALIZED_V1, source="/warden/intake",
                      subject=report.subject.id, payload=report, correlation_id="corr-kafka-1",
                      traceparent=traceparent)
    await routing_app.publish(topics.REPORTS_NORMALIZED, first, report.subject.id)
    await routing_app.wait_case(report)

    with log_lines() as logs:
        # The same report again, in a new event: the handler logs it as already routed.
        again = new_event(type=REPORT_NORMALIZED_V1, source="/warden/intake",
                          subject=report.subject.id, payload=report,
                          correlation_id="corr-kafka-1", traceparent=traceparent)
        await routing_app.publish(topics.REPORTS_NORMALIZED, again, report.subject.id)
        # A record whose payload is not a report: retried, then dead-lettered.
        marker = uuid.uuid4().hex
        broken = CloudEvent(source="/warden/intake", type=REPORT_NORMALIZED_V1,
                            subject=marker, data={"report_id": marker},
                            correlationid="corr-kafka-1", traceparent=traceparent)
        await routing_app.publish(topics.REPORTS_NORMALIZED, broken, marker)
        await read_records(routing_app.kafka,
                           topics.dlq(routing_app.settings.topic(topics.REPORTS_NORMALIZED)),
                           expect=1, timeout=30, where=lambda r: marker.encode() in r.value)
        await eventually(lambda: _named(logs, "report_already_routed"),
                         what="the duplicate's log line")
        await eventually(lambda: _named(logs, "event_dead_lettered"),
                         what="the dead-letter log line")
    assert_every_line_names(logs.of_requests_and_events(), "corr-kafka-1", trace_id)


async def _named(logs, event: str):
    return logs.named(event)
