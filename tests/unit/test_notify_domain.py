"""Notification rules: retries, dead-lettering, redelivery, payloads, references, paging."""

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from warden.notify.domain import (
    AttemptResult,
    NotificationStatus,
    References,
    RetryPolicy,
    after_attempt,
    describe_failure,
    outcome_event,
    page_cursor,
    parse_page_cursor,
    redelivery,
    references_of,
    validate_endpoint_url,
    validate_event_types,
    wants,
    webhook_body,
)
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    DECISION_RECORDED_V1,
    EVENT_MODELS,
    DecisionRecordedV1,
    Subject,
)
from warden.shared.errors import Conflict, InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, backoff_initial_s=2.0, backoff_max_s=60.0)


def failed(status: int | None = 500, error: str | None = None) -> AttemptResult:
    return AttemptResult(started_at=NOW, duration_ms=12.0, status_code=status, error=error)


def decision() -> DecisionRecordedV1:
    return DecisionRecordedV1(
        decision_id=uuid.uuid4(), case_id=uuid.uuid4(),
        subject=Subject(type="content", id="post-42"), action="remove", policy_area="hate",
        category="hate_speech", dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        policy_cited="HS-1", rationale="slur aimed at a protected group", reviewer_id="rev-1",
        decided_at=NOW, report_ids=[uuid.uuid4(), uuid.uuid4()], restricts=True)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_delivers(status):
    transition = after_attempt(failed(status), attempt_in_round=1, policy=POLICY, now=NOW)
    assert transition.status is NotificationStatus.DELIVERED
    assert transition.finished and transition.next_attempt_at is None


@pytest.mark.parametrize("result", [failed(500), failed(404), failed(301), failed(429),
                                    failed(None, "ConnectError: refused")])
def test_failures_are_retried_later_while_budget_remains(result):
    transition = after_attempt(result, attempt_in_round=1, policy=POLICY, now=NOW)
    assert transition.status is NotificationStatus.PENDING and not transition.finished
    assert NOW < transition.next_attempt_at <= NOW + timedelta(seconds=2)


def test_retry_schedule_is_exponential_with_jitter_and_capped():
    rng = random.Random(3)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16)]:
        for _ in range(30):
            due = after_attempt(failed(), attempt_in_round=attempt, policy=POLICY, now=NOW,
                                rng=rng).next_attempt_at
            assert NOW + timedelta(seconds=ceiling / 2) <= due <= NOW + timedelta(seconds=ceiling)
    capped = RetryPolicy(max_attempts=50, backoff_initial_s=2.0, backoff_max_s=60.0)
    due = after_attempt(failed(), attempt_in_round=20, policy=capped, now=NOW, rng=rng)
    assert due.next_attempt_at <= NOW + timedelta(seconds=60)


def test_jitter_spreads_retries_of_simultaneous_failures():
    rng = random.Random(11)
    dues = {after_attempt(failed(), attempt_in_round=3, policy=POLICY, now=NOW,
                          rng=rng).next_attempt_at for _ in range(20)}
    assert len(dues) == 20


def test_last_allowed_attempt_failing_makes_the_notification_dead():
    transition = after_attempt(failed(503), attempt_in_round=5, policy=POLICY, now=NOW)
    assert transition.status is NotificationStatus.DEAD
    assert transition.finished and transition.next_attempt_at is None


def test_success_on_the_last_allowed_attempt_still_delivers():
    transition = after_attempt(failed(200), attempt_in_round=5, policy=POLICY, now=NOW)
    assert transition.status is NotificationStatus.DELIVERED


@pytest.mark.parametrize("status", [NotificationStatus.DEAD, NotificationStatus.DELIVERED])
def test_finished_notifications_can_be_redelivered_at_once(status):
    transition = redelivery(status, now=NOW)
    assert transition.status is NotificationStatus.PENDING
    assert transition.next_attempt_at == NOW


def test_pending_notification_cannot_be_redelivered():
    with pytest.raises(Conflict, match="still pending"):
        redelivery(NotificationStatus.PENDING, now=NOW)


def test_failure_descriptions_are_short_and_never_the_response_body():
    assert describe_failure(500, None) == "receiver answered HTTP 500"
    assert describe_failure(204, None) is None
    assert describe_failure(None, httpx.ConnectTimeout("timed out")) == "ConnectTimeout: timed out"
    assert describe_failure(None, httpx.ReadError("")) == "ReadError"
    assert len(describe_failure(None, RuntimeError("x" * 2000))) == 500


def test_webhook_body_carries_the_whole_event_under_a_documented_envelope():
    payload = decision()
    event = new_event(type=DECISION_RECORDED_V1, source="/warden/decision",
                      subject="post-42", payload=payload, correlation_id="corr-1")
    notification_id = uuid.uuid4()
    body = webhook_body(notification_id, event)
    document = json.loads(body)
    assert document["type"] == DECISION_RECORDED_V1
    assert document["notification_id"] == str(notification_id)
    assert document["timestamp"].endswith("Z")
    assert document["event"]["id"] == event.id
    assert document["event"]["correlationid"] == "corr-1"
    assert DecisionRecordedV1.model_validate(document["event"]["data"]) == payload
    assert webhook_body(notification_id, event) == body  # the same bytes on every retry


def test_references_come_from_the_payload_with_the_subject_id_as_key():
    payload = decision()
    event = new_event(type=DECISION_RECORDED_V1, source="/d", subject="post-42", payload=payload)
    refs = references_of(event, payload)
    assert refs == References(subject_id="post-42", case_id=payload.case_id,
                              decision_id=payload.decision_id, report_ids=payload.report_ids)


def test_outcome_event_reports_finished_notifications_only():
    refs = References(subject_id="post-42", case_id=uuid.uuid4(), decision_id=uuid.uuid4(),
                      report_ids=[uuid.uuid4()])
    common = dict(notification_id=uuid.uuid4(), source_event_id="e-1",
                  source_event_type=DECISION_RECORDED_V1, endpoint_name="configured",
                  endpoint_url="http://127.0.0.1:8099/webhooks", attempts=3, finished_at=NOW,
                  refs=refs)
    dead = outcome_event(status=NotificationStatus.DEAD, **common)
    assert dead.status == "dead" and dead.attempts == 3
    assert (dead.case_id, dead.decision_id, dead.report_ids) == (refs.case_id, refs.decision_id,
                                                                 refs.report_ids)
    with pytest.raises(ValueError):
        outcome_event(status=NotificationStatus.PENDING, **common)


def test_page_cursor_round_trips_and_rejects_foreign_values():
    notification_id = uuid.uuid4()
    assert parse_page_cursor(page_cursor(NOW, notification_id)) == (NOW, notification_id)
    for bad in ["", "not-a-cursor", "MjAyNnxub3QtYS11dWlk", page_cursor(NOW, notification_id)[:-3]]:
        with pytest.raises(InvalidInput):
            parse_page_cursor(bad)


def test_endpoints_subscribe_to_known_event_types_or_everything():
    known = set(EVENT_MODELS)
    assert validate_event_types([DECISION_RECORDED_V1] * 2, known) == [DECISION_RECORDED_V1]
    assert wants(["*"], DECISION_RECORDED_V1) and wants([DECISION_RECORDED_V1],
                                                        DECISION_RECORDED_V1)
    assert not wants(["warden.case.routed.v1"], DECISION_RECORDED_V1)
    for bad in ([], ["warden.made.up.v1"]):
        with pytest.raises(InvalidInput):
            validate_event_types(bad, known)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/relative", "http://", "example.com"])
def test_endpoint_urls_must_be_absolute_http(url):
    with pytest.raises(InvalidInput):
        validate_endpoint_url(url)
    assert validate_endpoint_url("https://hooks.example.com/warden") == \
        "https://hooks.example.com/warden"
