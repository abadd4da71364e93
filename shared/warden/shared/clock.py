"""The wall clock every service reads: one ``utcnow`` (timezone-aware, UTC).

Modules import the function by name (``from warden.shared.clock import utcnow``), so a test
replaces one module's clock with ``monkeypatch.setattr(module, "utcnow", ...)`` without
touching the others.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
