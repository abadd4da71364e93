"""What an intake client may do: its scopes, and how its ``reports.raw`` records prove
who produced them. No I/O here.

Clients are upstream systems authenticated by API key (``X-API-Key``, see
:mod:`warden.shared.apikeys`). Scopes: ``submit:<channel>`` for each channel a client may
submit reports for, and ``reports:read`` to read the status of its own reports.

Over Kafka there is no API key to present, and anyone allowed to produce to
``reports.raw`` can set any header. So a record names its client *and* carries
``warden-signature: v1=<hex>``, the HMAC-SHA256 of (client name, idempotency key, record
value) keyed with the SHA-256 digest of that client's API key — which intake stores, and
only the holder of the key can compute. A record whose signature is missing or does not
match the named client's key is dead-lettered; a revoked client's records are too.
"""

from __future__ import annotations

import hashlib
import hmac

from warden.shared.apikeys.keys import ClientIdentity
from warden.shared.contracts.events import Channel

__all__ = ["ALL_SCOPES", "READ_SCOPE", "SIGNATURE_HEADER", "ClientIdentity",
           "may_submit_anything", "raw_signature", "raw_signed_content", "require_read",
           "require_submit", "submit_scope", "valid_raw_signature"]

SIGNATURE_HEADER = "warden-signature"
SIGNATURE_VERSION = "v1"

READ_SCOPE = "reports:read"
SUBMIT_PREFIX = "submit:"


def submit_scope(channel: Channel | str) -> str:
    return f"{SUBMIT_PREFIX}{Channel(channel).value}"


ALL_SCOPES: tuple[str, ...] = (*(submit_scope(c) for c in Channel), READ_SCOPE)


def require_submit(client: ClientIdentity, channel: Channel | str) -> None:
    client.require_scope(submit_scope(channel), f"submit {Channel(channel).value} reports")


def may_submit_anything(client: ClientIdentity) -> bool:
    return client.has_scope_starting(SUBMIT_PREFIX)


def require_read(client: ClientIdentity) -> None:
    client.require_scope(READ_SCOPE, "read reports")


def raw_signed_content(client_name: str, idempotency_key: str | None, value: bytes) -> bytes:
    """What a ``reports.raw`` signature covers. Header values never hold NUL, so the
    separators make the encoding unambiguous."""
    return b"\x00".join([SIGNATURE_VERSION.encode(), client_name.encode(),
                         (idempotency_key or "").encode(), value])


def raw_signature(api_key: str, client_name: str, value: bytes,
                  idempotency_key: str | None = None) -> str:
    """The ``warden-signature`` header value a producer holding ``api_key`` sends."""
    return _signature(hashlib.sha256(api_key.encode()).digest(),
                      raw_signed_content(client_name, idempotency_key, value))


def valid_raw_signature(key_hash: str, content: bytes, signature: str) -> bool:
    """Whether ``signature`` was made for ``content`` with the key whose SHA-256 (hex) is
    ``key_hash``; compared in constant time."""
    expected = _signature(bytes.fromhex(key_hash), content)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _signature(secret: bytes, content: bytes) -> str:
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret, content, hashlib.sha256).hexdigest()
