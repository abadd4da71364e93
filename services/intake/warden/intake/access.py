"""What an intake client may do: its scopes. No I/O here.

Clients are upstream systems authenticated by API key (``X-API-Key``, see
:mod:`warden.shared.apikeys`). Scopes: ``submit:<channel>`` for each channel a client may
submit reports for, and ``reports:read`` to read the status of its own reports.
"""

from __future__ import annotations

from warden.shared.apikeys.keys import ClientIdentity
from warden.shared.contracts.events import Channel

__all__ = ["ALL_SCOPES", "READ_SCOPE", "ClientIdentity", "may_submit_anything",
           "require_read", "require_submit", "submit_scope"]

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
