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


_MUTATING = {"post", "put", "patch", "delete"}


def document_problems(app) -> None:
    """Make every ``/v1`` operation of ``app``'s OpenAPI document list the problem documents
    the shared machinery can answer it with, so clients and schema-driven tests can rely on
    the document (routes still declare what is special to them with ``problem_responses``):

    - 422 (invalid parameters or body, where it has any) as a problem document, replacing
      FastAPI's own shape;
    - 400 where a body is taken (one that cannot be decoded at all);
    - 503 (a database outage) everywhere;
    - 401 and 403 where the operation needs credentials, and 429 where an API key is rate
      limited;
    - 404 where a path names a resource; 409 on every change (state conflicts).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        api_key_schemes = {name for name, scheme in
                           schema.get("components", {}).get("securitySchemes", {}).items()
                           if scheme.get("type") == "apiKey"}
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for method, operation in item.items():
                if isinstance(operation, dict):
                    _add_problems(operation, method, "{" in path, api_key_schemes)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _add_problems(operation: dict[str, Any], method: str, names_resource: bool,
                  api_key_schemes: set[str]) -> None:
    statuses = {503}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses.add(400)  # a body that is not even text (bytes that are not UTF-8)
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if schemes:
        statuses |= {401, 403}
    if schemes & api_key_schemes:
        statuses.add(429)
    if names_resource:
        statuses.add(404)
    if method in _MUTATING:
        statuses.add(409)
    responses = operation.setdefault("responses", {})
    for status, entry in problem_responses(*sorted(statuses)).items():
        existing = responses.get(str(status))
        if existing is None or status == 422 and PROBLEM_JSON not in existing.get("content", {}):
            responses[str(status)] = entry
