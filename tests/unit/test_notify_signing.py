"""Standard Webhooks signing and verification."""

import base64

import pytest

from warden.notify.signing import (
    InvalidSecret,
    InvalidSignature,
    generate_secret,
    secret_key,
    sign,
    signature_headers,
    verify,
)

# The test vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = generate_secret()
NOW = 1_750_000_000


def signed(body: bytes = b'{"type":"x"}', *, secret: str = SECRET, timestamp: int = NOW,
           msg_id: str = "n-1") -> dict[str, str]:
    return signature_headers(secret, msg_id, timestamp, body)


def test_known_test_vector_signs_and_verifies():
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
               "webhook-signature": VECTOR_SIGNATURE}
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP) == VECTOR_ID


def test_signed_headers_verify_and_name_the_message():
    headers = signed()
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(SECRET, headers, b'{"type":"x"}', now=NOW) == "n-1"


def test_tampered_body_is_rejected():
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify(SECRET, signed(b'{"amount":1}'), b'{"amount":100}', now=NOW)


def test_wrong_secret_is_rejected():
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify(generate_secret(), signed(), b'{"type":"x"}', now=NOW)


def test_changed_id_or_timestamp_breaks_the_signature():
    for field, value in (("webhook-id", "n-2"), ("webhook-timestamp", str(NOW + 1))):
        headers = {**signed(), field: value}
        with pytest.raises(InvalidSignature):
            verify(SECRET, headers, b'{"type":"x"}', now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_timestamp_outside_the_tolerance_window_is_rejected(age):
    headers = signed(timestamp=NOW - age)
    with pytest.raises(InvalidSignature, match="more than 300s"):
        verify(SECRET, headers, b'{"type":"x"}', now=NOW)


def test_timestamp_inside_the_window_is_accepted_and_window_is_configurable():
    assert verify(SECRET, signed(timestamp=NOW - 300), b'{"type":"x"}', now=NOW) == "n-1"
    with pytest.raises(InvalidSignature):
        verify(SECRET, signed(timestamp=NOW - 11), b'{"type":"x"}', now=NOW, tolerance_s=10)


def test_any_of_several_signatures_may_match_during_secret_rotation():
    old, new = generate_secret(), SECRET
    headers = signed(secret=new)
    headers["webhook-signature"] = (f"{sign(old, 'n-1', NOW, b'{}')} v2,zzz "
                                    f"{headers['webhook-signature']}")
    assert verify(new, headers, b'{"type":"x"}', now=NOW) == "n-1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing):
    headers = signed()
    del headers[missing]
    with pytest.raises(InvalidSignature, match="missing"):
        verify(SECRET, headers, b'{"type":"x"}', now=NOW)


def test_non_numeric_timestamp_is_rejected():
    with pytest.raises(InvalidSignature, match="not an integer"):
        verify(SECRET, {**signed(), "webhook-timestamp": "yesterday"}, b'{"type":"x"}', now=NOW)


@pytest.mark.parametrize("secret", [
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
    "whsec_not base64!",
    "whsec_" + base64.b64encode(b"short").decode(),
])
def test_malformed_secrets_are_refused(secret):
    with pytest.raises(InvalidSecret):
        secret_key(secret)


def test_generated_secrets_are_distinct_whsec_secrets_of_32_bytes():
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert first.startswith("whsec_") and len(secret_key(first)) == 32
