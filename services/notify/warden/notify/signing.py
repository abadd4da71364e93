"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure functions.

A webhook carries three headers:

* ``webhook-id``: the notification's id, the same on every retry (receivers de-duplicate on it);
* ``webhook-timestamp``: seconds since the epoch when this attempt was signed;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``; several
  space-separated signatures are allowed so a secret can be rotated without downtime.

Secrets are ``whsec_`` followed by the base64 of the key bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300
MIN_KEY_BYTES = 24
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSecret(ValueError):
    """A secret that is not ``whsec_<base64>`` of enough key bytes."""


class InvalidSignature(ValueError):
    """A webhook whose headers do not prove it came, unaltered and recently, from the sender."""


def generate_secret(n_bytes: int = 32) -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(n_bytes)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("a webhook secret is whsec_ followed by base64") from exc
    if len(key) < MIN_KEY_BYTES:
        raise InvalidSecret(f"a webhook secret needs at least {MIN_KEY_BYTES} key bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_headers(secrets_: str | list[str], msg_id: str, timestamp: int,
                      body: bytes) -> dict[str, str]:
    """Headers for one attempt; during a rotation both the new and the old secret sign, so a
    receiver verifies with whichever it has (the spec allows several signatures)."""
    keys = [secrets_] if isinstance(secrets_, str) else secrets_
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: " ".join(sign(k, msg_id, timestamp, body) for k in keys)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: int,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> str:
    """Check a received webhook; returns its ``webhook-id`` or raises ``InvalidSignature``.

    ``headers`` must be case-insensitive for HTTP header names (Starlette's and httpx's are)
    or use the lower-case names. The timestamp window stops replays of captured requests.
    """
    msg_id = headers.get(ID_HEADER)
    raw_timestamp = headers.get(TIMESTAMP_HEADER)
    raw_signatures = headers.get(SIGNATURE_HEADER)
    if not msg_id or not raw_timestamp or not raw_signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature(f"webhook-timestamp is more than {tolerance_s}s away from now")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in raw_signatures.split():
        version, _, _ = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise InvalidSignature("no webhook-signature matches the body and secret")
