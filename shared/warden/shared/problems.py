"""RFC 9457 problem documents: the one mapping from errors to HTTP responses."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from warden.shared.db import is_transient_database_error
from warden.shared.errors import WardenError
from warden.shared.named_problems import schema_problems
from warden.shared.observability import get_logger

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_S = 2


def problem_document(*, status: int, title: str, detail: str, slug: str, instance: str,
                     errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one place a problem document is built (``errors`` only when there are some)."""
    body: dict[str, Any] = {
        "type": f"urn:warden:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(request: Request, *, status: int, title: str, detail: str, slug: str,
                     errors: list[dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = problem_document(status=status, title=title, detail=detail, slug=slug,
                            instance=request.url.path, errors=errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def send_problem(scope: dict[str, Any], send, status: int, title: str, detail: str,
                       slug: str, errors: list[dict[str, Any]] | None = None) -> None:
    """Answer with a problem document from pure ASGI middleware, before any route runs.
    The connection is closed after it: the request body may not have been read to its end."""
    body = json.dumps(problem_document(status=status, title=title, detail=detail, slug=slug,
                                       instance=scope["path"], errors=errors)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


DEPENDENCY_ERRORS = (sa_exc.DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def exception_problem(exc: Exception, path: str) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The problem document (and headers) an exception raised by a request answers with.

    Called from inside the ``except`` block that caught ``exc``, so an unexpected one is
    logged with its traceback. The FastAPI handlers and intake's lean submit path share it."""
    if isinstance(exc, WardenError):
        return problem_document(status=exc.status, title=exc.title, detail=exc.detail,
                                slug=exc.type_slug, instance=path, errors=exc.errors), exc.headers
    if isinstance(exc, DEPENDENCY_ERRORS) and is_transient_database_error(exc):
        # An outage, or a conflict PostgreSQL broke by aborting us: the transaction rolled
        # back, and the same request may well succeed shortly.
        log.warning("database_unavailable", path=path, error=repr(exc)[:500])
        return problem_document(
            status=503, title="Service unavailable", slug="unavailable", instance=path,
            detail="the database is unavailable or busy; nothing was changed, retry later",
        ), {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    log.exception("unhandled_error", path=path)
    return problem_document(status=500, title="Internal error", slug="internal", instance=path,
                            detail="an unexpected error occurred; it has been logged"), None


def validation_problem(errors: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """The 422 document for field problems (``{"field", "message", "type"}`` each)."""
    fields = ", ".join(e["field"] for e in errors[:10])
    return problem_document(status=422, title="Invalid input", slug="invalid-input",
                            detail=f"{len(errors)} problem(s) in the request: {fields}",
                            instance=path, errors=errors)


def document_response(document: dict[str, Any],
                      headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(document, status_code=document["status"], media_type=PROBLEM_JSON,
                        headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return document_response(validation_problem(schema_problems(exc.errors()),
                                                    request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return problem_response(request, status=exc.status_code, title=str(exc.detail),
                                detail=str(exc.detail), slug=f"http-{exc.status_code}",
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(WardenError)
    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(asyncpg.PostgresError)  # a hot path's plain asyncpg statement
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(OSError)
    @app.exception_handler(Exception)
    async def _raised(request: Request, exc: Exception):
        return exception_response(request, exc)


def exception_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an exception a request raised (an unexpected one logged with its
    traceback)."""
    return document_response(*exception_problem(exc, request.url.path))
