"""Parsing ``reports.raw`` records, without Kafka: what becomes a report, what is dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import ConsumerRecord

from warden.intake.channels import UserReport
from warden.intake.consumers import RAW_REPORT, parse_raw_report, receipt_time
from warden.intake.examples import example
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.errors import InvalidMessage

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def record(value: bytes | None, headers: list[tuple[str, bytes]] = (), offset: int = 7,
           timestamp: int = 1_700_000_000_000) -> ConsumerRecord:
    return ConsumerRecord(topic="p.reports.raw", partition=1, offset=offset, timestamp=timestamp,
                          timestamp_type=0, key=None, value=value, checksum=None,
                          serialized_key_size=0, serialized_value_size=len(value or b""),
                          headers=list(headers))


SIGNED = ("warden-signature", b"v1=00")  # checked against the client's key by the handler


def plain(**headers: bytes) -> ConsumerRecord:
    return record(json.dumps(example("user")).encode(),
                  [SIGNED, *((k.replace("_", "-"), v) for k, v in headers.items())])


def test_plain_body_with_client_header_is_a_report_identified_by_its_position():
    message = parse_raw_report(plain(warden_client=b"moderation-app"))
    assert message.type == RAW_REPORT
    assert message.event_id == "record:p.reports.raw:1:7"
    assert message.payload.client_name == "moderation-app"
    assert isinstance(message.payload.report, UserReport)
    assert message.payload.idempotency_key is None
    assert message.payload.produced_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_idempotency_key_header_is_kept_and_overlong_keys_are_hashed():
    short = parse_raw_report(plain(warden_client=b"a", idempotency_key=b"k-1"))
    assert short.payload.idempotency_key == "k-1"
    long = parse_raw_report(plain(warden_client=b"a", idempotency_key=b"k" * 500))
    assert long.payload.idempotency_key.startswith("sha256:")
    assert len(long.payload.idempotency_key) < 200


def test_cloudevent_wrapping_names_the_client_in_an_attribute_or_header():
    event = CloudEvent(source="/upstream", type="com.example.report", data=example("user"),
                       wardenclient="from-attribute", correlationid="c-1")
    message = parse_raw_report(record(event.to_bytes(), [SIGNED]))
    assert message.payload.client_name == "from-attribute"
    assert message.event_id == f"ce:/upstream:{event.id}"
    assert message.event is not None and message.event.correlationid == "c-1"
    header_wins = parse_raw_report(record(event.to_bytes(),
                                          [SIGNED, ("warden-client", b"header")]))
    assert header_wins.payload.client_name == "header"


@pytest.mark.parametrize("value, headers, reason", [
    (None, [("warden-client", b"a"), SIGNED], "tombstone"),
    (b"{oops", [("warden-client", b"a"), SIGNED], "not JSON"),
    (b"[1, 2]", [("warden-client", b"a"), SIGNED], "not an object"),
    (json.dumps(example("user")).encode(), [], "warden-client"),
    (json.dumps(example("user")).encode(), [("warden-client", b"\xff")], "not UTF-8"),
    (json.dumps(example("user")).encode(), [("warden-client", b"a")], "not signed"),
    (json.dumps(example("user")).encode(), [("warden-client", b"a\x00b")], "NUL"),
    (json.dumps({**example("user"), "reason": "nope"}).encode(),
     [("warden-client", b"a"), SIGNED], "reason:"),
    (json.dumps({"specversion": "1.0", "data": []}).encode(),
     [("warden-client", b"a"), SIGNED], "not a CloudEvent"),
])
def test_what_cannot_become_a_report_is_an_invalid_message_saying_why(value, headers, reason):
    with pytest.raises(InvalidMessage, match=reason):
        parse_raw_report(record(value, headers))


def test_receipt_time_is_the_record_time_unless_implausible():
    assert receipt_time(NOW - timedelta(minutes=5), NOW) == NOW - timedelta(minutes=5)
    assert receipt_time(NOW + timedelta(minutes=5), NOW) == NOW
    assert receipt_time(NOW - timedelta(days=30), NOW) == NOW
    assert receipt_time(None, NOW) == NOW


def test_the_signature_covers_the_client_the_idempotency_key_and_the_value():
    from warden.intake.access import raw_signature, valid_raw_signature
    from warden.shared.apikeys.keys import hash_api_key

    key = "wik_the-producer-s-key"
    value = json.dumps(example("user")).encode()
    signature = raw_signature(key, "moderation-app", value, "k-1")
    message = parse_raw_report(record(value, [("warden-client", b"moderation-app"),
                                              ("warden-signature", signature.encode()),
                                              ("idempotency-key", b"k-1")]))
    assert valid_raw_signature(hash_api_key(key), message.payload.signed_content,
                               message.payload.signature)
    assert not valid_raw_signature(hash_api_key("wik_another-key"),
                                   message.payload.signed_content, message.payload.signature)
    for changed in (raw_signature(key, "other-app", value, "k-1"),
                    raw_signature(key, "moderation-app", value, "k-2"),
                    raw_signature(key, "moderation-app", value + b" ", "k-1"),
                    raw_signature(key, "moderation-app", value)):
        assert not valid_raw_signature(hash_api_key(key), message.payload.signed_content,
                                       changed)
