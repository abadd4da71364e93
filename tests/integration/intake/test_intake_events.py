"""Intake's consumers against real Kafka: ``reports.raw`` in (or to its DLQ), and each
report's status following ``cases.routed``, ``decisions.recorded`` and
``notifications.delivered``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.intake.conftest import signed
from tests.support.apps import eventually
from tests.support.kafka import produce, produce_event, produce_events, read_records
from warden.intake.access import READ_SCOPE, submit_scope
from warden.intake.examples import example
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V1,
    NOTIFICATION_DELIVERED_V1,
    REPORT_NORMALIZED_V1,
    CaseRoutedV1,
    DecisionRecordedV1,
    NotificationDeliveredV1,
    Subject,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def fresh(channel: str, external_field: str) -> dict:
    body = example(channel)
    body["content"]["id"] = f"{body['content']['id']}-{uuid.uuid4().hex[:8]}"
    body[external_field] = f"{channel}-{uuid.uuid4().hex}"
    return body


async def normalized_for(intake, subject_id: str, timeout: float = 20) -> CloudEvent:
    def about_subject(record) -> bool:
        return record.key == subject_id.encode()

    records = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                 expect=1, timeout=timeout, where=about_subject)
    assert records, f"no reports.normalized event for {subject_id}"
    return CloudEvent.from_bytes(records[0].value)


async def dead_letters(intake, marker: bytes, expect: int) -> list:
    return await read_records(intake.kafka, topics.dlq(intake.topic(topics.REPORTS_RAW)),
                              expect=expect, timeout=20,
                              where=lambda r: marker in (r.value or b""))


# --- reports.raw --------------------------------------------------------------------------

async def test_plain_json_report_on_reports_raw_is_normalised_and_stored(intake):
    name, auth = await intake.new_client()
    body = fresh("user", "client_report_id")
    value = json.dumps(body).encode()
    await produce(intake.kafka, intake.topic(topics.REPORTS_RAW), value,
                  key=body["content"]["id"].encode(), headers=signed(name, auth, value))
    event = await normalized_for(intake, body["content"]["id"])
    assert event.type == REPORT_NORMALIZED_V1
    assert event.data["channel"] == "user" and event.data["category"] == "hate_speech"
    read = await intake.http.get(f"/v1/reports/{event.data['report_id']}", headers=auth)
    assert read.status_code == 200
    assert read.json()["external_id"] == body["client_report_id"]


async def test_cloudevent_wrapped_report_names_its_client_in_an_attribute(intake):
    name, auth = await intake.new_client()
    body = fresh("automated", "signal_id")
    wrapped = CloudEvent(source="/detectors/nudity", type="com.example.signal.raised",
                         data=body, wardenclient=name, correlationid="corr-raw-1")
    value = wrapped.to_bytes()
    signature = signed(name, auth, value)[1]
    await produce(intake.kafka, intake.topic(topics.REPORTS_RAW), value, headers=[signature])
    event = await normalized_for(intake, body["content"]["id"])
    assert event.data["channel"] == "automated"
    assert event.data["signals"]["score"] == 0.97
    assert event.correlationid == "corr-raw-1"
    # The same CloudEvent delivered again is one report.
    await produce(intake.kafka, intake.topic(topics.REPORTS_RAW), value, headers=[signature])
    records = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                 expect=1, timeout=10, settle=2,
                                 where=lambda r: r.key == body["content"]["id"].encode())
    assert len(records) == 1


async def test_raw_terrorist_order_deadline_runs_from_when_it_reached_kafka(intake):
    name, auth = await intake.new_client(submit_scope("regulator"))
    body = fresh("regulator", "order_reference")
    produced = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    producer = AIOKafkaProducer(bootstrap_servers=intake.kafka, acks="all")
    await producer.start()
    try:
        value = json.dumps(body).encode()
        await producer.send_and_wait(intake.topic(topics.REPORTS_RAW), value,
                                     timestamp_ms=int(produced.timestamp() * 1000),
                                     headers=signed(name, auth, value))
    finally:
        await producer.stop()
    event = await normalized_for(intake, body["content"]["id"])
    deadline = datetime.fromisoformat(event.data["legal"]["deadline"].replace("Z", "+00:00"))
    assert deadline == produced + timedelta(hours=1)


async def test_invalid_raw_records_go_to_the_dlq_with_a_reason_and_the_consumer_goes_on(intake):
    name, auth = await intake.new_client(submit_scope("user"))
    marker = uuid.uuid4().hex.encode()
    raw = intake.topic(topics.REPORTS_RAW)

    def marked(channel: str, external_field: str) -> dict:
        body = fresh(channel, external_field)
        body["content"]["id"] += marker.decode()
        return body

    missing_reporter = marked("user", "client_report_id")
    del missing_reporter["reporter"]
    not_json = b"{not json " + marker
    invalid = json.dumps(missing_reporter).encode()
    wrong_channel = json.dumps(marked("regulator", "order_reference")).encode()
    no_client = json.dumps(marked("user", "client_report_id")).encode()
    unknown_client = json.dumps(marked("user", "client_report_id")).encode()
    nobody = f"nobody-{marker.decode()}"
    cases = [
        (not_json, signed(name, auth, not_json), "not JSON"),
        (invalid, signed(name, auth, invalid), "reporter: Field required"),
        (wrong_channel, signed(name, auth, wrong_channel), "submit:regulator"),
        (no_client, [], "warden-client"),
        (unknown_client, signed(nobody, auth, unknown_client), "unknown or revoked client"),
    ]
    for value, headers, _ in cases:
        await produce(intake.kafka, raw, value, headers=headers)
    good = json.dumps(fresh("user", "client_report_id")).encode()
    await produce(intake.kafka, raw, good, headers=signed(name, auth, good))

    letters = await dead_letters(intake, marker, expect=len(cases))
    assert len(letters) == len(cases)
    by_value = {letter.value: dict(letter.headers) for letter in letters}
    for value, _, reason in cases:
        headers = by_value[value]
        assert reason in headers["dlq.reason"].decode(), headers["dlq.reason"]
        assert headers["dlq.original.topic"].decode() == raw
    await normalized_for(intake, json.loads(good)["content"]["id"])


async def test_a_raw_record_is_only_taken_from_the_client_whose_key_signed_it(intake):
    """Anyone who may produce to reports.raw can set warden-client: the signature decides."""
    victim, victim_auth = await intake.new_client(submit_scope("user"), READ_SCOPE)
    _, forger_auth = await intake.new_client(submit_scope("user"))
    marker = uuid.uuid4().hex.encode()
    raw = intake.topic(topics.REPORTS_RAW)

    def value() -> bytes:
        body = fresh("user", "client_report_id")
        body["content"]["id"] += marker.decode()
        return json.dumps(body).encode()

    unsigned, forged, tampered, replayed_key = value(), value(), value(), value()
    original_key_headers = signed(victim, victim_auth, replayed_key, idempotency_key="k-1")
    other_key_headers = [h if h[0] != "idempotency-key" else ("idempotency-key", b"k-2")
                         for h in original_key_headers]
    cases = [
        (unsigned, [("warden-client", victim.encode())], "not signed"),
        (forged, signed(victim, forger_auth, forged), "does not match"),
        (tampered, signed(victim, victim_auth, tampered.replace(b"hate_speech", b"spam")),
         "does not match"),
        (replayed_key, other_key_headers, "does not match"),
    ]
    for record_value, headers, _ in cases:
        await produce(intake.kafka, raw, record_value, headers=headers)
    letters = await dead_letters(intake, marker, expect=len(cases))
    reasons = {letter.value: dict(letter.headers)["dlq.reason"].decode() for letter in letters}
    for record_value, _, reason in cases:
        assert reason in reasons[record_value], reasons[record_value]
        assert victim in reasons[record_value]
    # None of them became a report of the victim's; the properly signed one does.
    good = value()
    await produce(intake.kafka, raw, good, headers=signed(victim, victim_auth, good))
    event = await normalized_for(intake, json.loads(good)["content"]["id"])
    assert event.data["channel"] == "user"
    mine = await intake.http.get(f"/v1/reports/{event.data['report_id']}", headers=victim_auth)
    assert mine.status_code == 200


# --- status following downstream events ---------------------------------------------------

async def submit(intake, auth) -> dict:
    body = fresh("user", "client_report_id")
    response = await intake.http.post("/v1/reports", json=body, headers=auth)
    assert response.status_code == 201
    return response.json()


def routed(report: dict, *, queue: str, at: datetime, case_id: uuid.UUID | None = None,
           reason: str = "opened") -> CaseRoutedV1:
    subject = Subject.model_validate(report["report"]["subject"])
    return CaseRoutedV1(case_id=case_id or uuid.uuid4(), subject=subject,
                        policy_area="community_standards", category="hate_speech", queue=queue,
                        priority=50, due_at=at + timedelta(hours=24), reason=reason,
                        report_ids=[report["id"]], rule_id="hate", policy_version="test",
                        routed_at=at)


def decided(report: dict, case_id: uuid.UUID, *, action: str, at: datetime) -> DecisionRecordedV1:
    return DecisionRecordedV1(decision_id=uuid.uuid4(), case_id=case_id,
                              subject=Subject.model_validate(report["report"]["subject"]),
                              action=action, policy_area="community_standards",
                              category="hate_speech",
                              dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
                              policy_cited="CS-3.1", rationale="slur", reviewer_id="alice",
                              decided_at=at, report_ids=[report["id"]], restricts=True)


def delivered(report: dict, *, source_type: str, at: datetime) -> NotificationDeliveredV1:
    return NotificationDeliveredV1(notification_id=uuid.uuid4(), source_event_id="e",
                                   source_event_type=source_type, recipient="reporter",
                                   endpoint_url="http://127.0.0.1:9/hook", status="delivered",
                                   attempts=1, finished_at=at, report_ids=[report["id"]])


async def publish(intake, topic: str, event_type: str, payload, subject: str) -> None:
    event = new_event(type=event_type, source="/test", subject=subject, payload=payload)
    await produce_event(intake.kafka, intake.topic(topic), event, key=subject)


async def status_of(intake, auth, report_id: str) -> dict:
    response = await intake.http.get(f"/v1/reports/{report_id}", headers=auth)
    assert response.status_code == 200
    return response.json()


async def test_status_follows_routing_decision_and_notification(intake):
    _, auth = await intake.new_client()
    report = await submit(intake, auth)
    subject = report["report"]["subject"]["id"]
    now = datetime.now(UTC)

    case = routed(report, queue="hate_harassment", at=now)
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1, case, subject)
    state = await eventually(lambda: _when(intake, auth, report["id"], "routed"),
                             what="the report to be routed", timeout=20, interval=0.1)
    assert state["routing"]["queue"] == "hate_harassment"
    assert state["routing"]["case_id"] == str(case.case_id)

    decision = decided(report, case.case_id, action="remove", at=now + timedelta(minutes=5))
    await publish(intake, topics.DECISIONS_RECORDED, DECISION_RECORDED_V1, decision, subject)
    state = await eventually(lambda: _when(intake, auth, report["id"], "decided"),
                             what="the report to be decided", timeout=20, interval=0.1)
    assert state["decision"]["action"] == "remove"
    assert state["decision"]["decision_id"] == str(decision.decision_id)

    # A receipt confirmation is not the outcome; the decision's notification is.
    receipt = delivered(report, source_type=REPORT_NORMALIZED_V1, at=now + timedelta(minutes=1))
    outcome = delivered(report, source_type=DECISION_RECORDED_V1, at=now + timedelta(minutes=6))
    for note in (receipt, outcome):
        await publish(intake, topics.NOTIFICATIONS_DELIVERED, NOTIFICATION_DELIVERED_V1, note,
                      subject)
    state = await eventually(lambda: _when(intake, auth, report["id"], "notified"),
                             what="the report to be notified", timeout=20, interval=0.1)
    assert datetime.fromisoformat(state["notified_at"].replace("Z", "+00:00")) == (
        outcome.finished_at)


async def test_late_or_out_of_order_events_never_roll_the_status_back(intake):
    _, auth = await intake.new_client()
    report = await submit(intake, auth)
    subject = report["report"]["subject"]["id"]
    now = datetime.now(UTC)
    first = routed(report, queue="general", at=now)
    transferred = routed(report, queue="hate_harassment", at=now + timedelta(minutes=2),
                         case_id=first.case_id, reason="transferred")
    decision = decided(report, first.case_id, action="label", at=now + timedelta(minutes=3))

    # The decision (another topic) overtakes routing; the older routing event comes last.
    await publish(intake, topics.DECISIONS_RECORDED, DECISION_RECORDED_V1, decision, subject)
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1, transferred, subject)
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1, first, subject)

    async def settled():
        state = await status_of(intake, auth, report["id"])
        return state if state["decision"] and state["routing"] else None

    await eventually(settled, what="both events applied", timeout=20, interval=0.1)
    # Give the stale routing event (same partition, after the transfer) time to be applied.
    marker_report = await submit(intake, auth)
    marker = routed(marker_report, queue="marker", at=now)
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1, marker,
                  report["report"]["subject"]["id"])
    await eventually(lambda: _when(intake, auth, marker_report["id"], "routed"),
                     what="the marker after the stale event", timeout=20, interval=0.1)
    state = await status_of(intake, auth, report["id"])
    assert state["status"] == "decided"
    assert state["routing"]["queue"] == "hate_harassment"
    assert state["decision"]["action"] == "label"


async def test_a_run_of_routings_leaves_each_report_at_its_latest(intake):
    """Routings produced together reach intake as runs (one statement per run): each report
    ends at its latest routing, whether that came first or last in the run, and an event
    sent again changes nothing."""
    _, auth = await intake.new_client()
    reports = [await submit(intake, auth) for _ in range(12)]
    subject = reports[0]["report"]["subject"]["id"]
    now = datetime.now(UTC)
    events, latest = [], {}
    for i, report in enumerate(reports):
        opened = routed(report, queue="general", at=now)
        moved = routed(report, queue=f"queue-{i}", at=now + timedelta(minutes=1 + i),
                       case_id=opened.case_id, reason="transferred")
        order = [opened, moved] if i % 2 else [moved, opened]  # the stale one last, or first
        events += [new_event(type=CASE_ROUTED_V1, source="/test", subject=subject, payload=e)
                   for e in order]
        latest[report["id"]] = f"queue-{i}"
    events.append(events[0])  # a redelivery
    await produce_events(intake.kafka, intake.topic(topics.CASES_ROUTED), events, subject)

    async def all_routed():
        states = [await status_of(intake, auth, r["id"]) for r in reports]
        return states if all(s["routing"] and s["routing"]["queue"] == latest[s["id"]]
                             for s in states) else None

    await eventually(all_routed, what="every report at its latest routing", timeout=20,
                     interval=0.2)


async def _when(intake, auth, report_id: str, status: str) -> dict | None:
    state = await status_of(intake, auth, report_id)
    return state if state["status"] == status else None


async def test_events_about_reports_intake_does_not_know_are_ignored(intake):
    _, auth = await intake.new_client(READ_SCOPE, submit_scope("user"))
    stranger = {"id": str(uuid.uuid4()),
                "report": {"subject": {"type": "content", "id": "elsewhere"}}}
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1,
                  routed(stranger, queue="general", at=datetime.now(UTC)), "elsewhere")
    report = await submit(intake, auth)
    await publish(intake, topics.CASES_ROUTED, CASE_ROUTED_V1,
                  routed(report, queue="general", at=datetime.now(UTC)), "elsewhere")
    await eventually(lambda: _when(intake, auth, report["id"], "routed"),
                     what="the known report routed after the unknown one", timeout=20)
