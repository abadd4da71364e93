"""Opaque keyset-pagination cursors: the sort key of a page's last row, handed back by the
client to get the next page.

A cursor is the key's parts as a JSON array, base64url-encoded without padding. The reader
says which kind each part is; anything else (edited, truncated, from another listing) is a
422 naming ``query.cursor``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from warden.shared.errors import InvalidInput

Part = int | str | datetime | uuid.UUID
KINDS = (int, str, datetime, uuid.UUID)


def encode_cursor(*parts: Part) -> str:
    values = [p.isoformat() if isinstance(p, datetime) else str(p) if isinstance(p, uuid.UUID)
              else p for p in parts]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The parts of a cursor :func:`encode_cursor` made, each read as the kind given
    (``int``, ``str``, an aware ``datetime`` or ``uuid.UUID``)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("not a cursor of this listing")
        return tuple(_read(kind, value) for kind, value in zip(kinds, values, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API returned", errors=[{
            "field": "query.cursor", "message": "pass back next_cursor unchanged",
            "type": "cursor"}]) from exc


def _read(kind: type, value: Any) -> Any:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not an integer")
        return value
    if not isinstance(value, str):
        raise TypeError("not a string")
    if kind is str:
        return value
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time is always timezone-aware")
        return moment
    if kind is uuid.UUID:
        return uuid.UUID(value)
    raise TypeError(f"a cursor part is one of {KINDS}, not {kind}")
