"""One error hierarchy for every service.

Each error knows how it maps to HTTP (``status``) and to the consumer's
retry-or-DLQ decision (``retryable``). The mappings live in exactly two places:
``warden.shared.app`` (HTTP problem documents) and ``warden.shared.bus.consumer``
(retry with backoff, or dead-letter).
"""

from __future__ import annotations

from typing import Any


class WardenError(Exception):
    """Base of every error the services raise on purpose."""

    status: int = 500
    title: str = "Internal error"
    type_slug: str = "internal"
    retryable: bool = False

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class InvalidInput(WardenError):
    status, title, type_slug = 422, "Invalid input", "invalid-input"


class InvalidMessage(WardenError):
    """A consumed event that can never be processed (bad JSON, unknown schema...)."""

    status, title, type_slug = 422, "Invalid message", "invalid-message"


class NotFound(WardenError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(WardenError):
    status, title, type_slug = 409, "Conflict", "conflict"


class Unauthorized(WardenError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"


class Forbidden(WardenError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class RateLimited(WardenError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"


class TransientError(WardenError):
    """Worth retrying: a dependency is briefly unavailable."""

    status, title, type_slug = 503, "Service unavailable", "unavailable"
    retryable = True
