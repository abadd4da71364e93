"""OpenAPI documentation of the RFC 9457 problem documents every service returns.

Routes pass ``responses=problem_responses(401, 422, ...)`` so their OpenAPI document
lists each error status with the ``application/problem+json`` schema, which lets
clients (and schema-driven test tools) validate error responses too.
"""

from __future__ import annotations

from typing import Any

from warden.shared.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ProblemDocument",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URN naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "one entry per problem, with the dotted path of the field at fault",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "The credentials do not allow this",
    404: "Not found (or not visible to this caller)",
    409: "Conflicts with the current state",
    413: "Request body larger than allowed",
    415: "Unsupported content type",
    422: "Invalid content; `errors` names every field at fault",
    429: "Rate limit exceeded; retry after `Retry-After` seconds",
    503: "A dependency is briefly unavailable; retry later",
}

_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer"},
                          "description": "seconds to wait before retrying"}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` entries documenting problem documents for ``statuses``."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, "Problem"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        documented[status] = entry
    return documented
