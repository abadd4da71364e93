"""A local stand-in of the DSA Transparency Database API: ``python -m warden.notify.tdb_standin``.

For tests and local runs only. It answers as the real API does (its source: the
``StatementMultipleAPIController`` and ``GroupedSubmissionsService`` of
github.com/digital-services-act/transparency-database):

* ``POST /api/v1/statements`` with ``{"statements": [...]}``, 1 to 100 of them, under
  ``Authorization: Bearer <token>``: 201 ``{"statements": [...]}`` with each stored statement
  (its ``uuid`` added); 422 ``{"errors": {"statement_<index>": {field: [message]}}}`` when any
  statement breaks the published validation rules (the whole batch is refused); 422
  ``{"message": ..., "errors": {"puid": [...], "existing_puids": [...]}}`` when a ``puid`` is
  already known (or repeated in the call); 401 without the token.
* ``POST /api/v1/statement``: one statement, 201 or 422 likewise.

The validation rules are ``warden.shared.contracts.transparency.validate_statement``, the
module the decision service builds statements with. Statements are kept in memory (this
process is the stand-in of someone else's database). ``fail_next`` / ``rate_limit_next``
make it answer 503 / 429 to the next calls, for retry tests.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from warden.shared.contracts.transparency import validate_statement

DUPLICATE_MESSAGE = "The platform identifier(s) are not all unique within this call."
LOCAL_TOKEN = "local-tdb-token"


@dataclass
class TransparencyStandIn:
    token: str = LOCAL_TOKEN
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)  # puid -> statement
    requests: list[int] = field(default_factory=list)  # batch sizes, in the order received
    fail_next: int = 0
    rate_limit_next: int = 0

    def app(self) -> FastAPI:
        app = FastAPI(title="DSA Transparency Database API (local stand-in)", openapi_url=None)

        @app.post("/api/v1/statements")
        async def store_many(request: Request) -> JSONResponse:
            refusal = self._gate(request)
            if refusal:
                return refusal
            body = await _json(request)
            statements = body.get("statements") if isinstance(body, dict) else None
            if not isinstance(statements, list) or not 1 <= len(statements) <= 100:
                return _unprocessable({"statements": [
                    "The statements field must have between 1 and 100 items."]})
            self.requests.append(len(statements))
            return self._store(statements, multi=True)

        @app.post("/api/v1/statement")
        async def store_one(request: Request) -> JSONResponse:
            refusal = self._gate(request)
            if refusal:
                return refusal
            body = await _json(request)
            if not isinstance(body, dict):
                return _unprocessable({"statement": ["The body must be a JSON object."]})
            self.requests.append(1)
            return self._store([body], multi=False)

        return app

    def _gate(self, request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"message": "Unauthenticated."}, status_code=401)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return JSONResponse({"message": "Too Many Attempts."}, status_code=429,
                                headers={"retry-after": "1"})
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        return None

    def _store(self, statements: list[Any], *, multi: bool) -> JSONResponse:
        errors: dict[str, Any] = {}
        for index, statement in enumerate(statements):
            problems = validate_statement(statement) if isinstance(statement, dict) \
                else {"statement": ["The statement must be an object."]}
            if problems:
                if not multi:
                    return _unprocessable(problems)
                errors[f"statement_{index}"] = problems
        if errors:
            return _unprocessable(errors)
        puids = [s["puid"] for s in statements]
        duplicates = sorted({p for p in puids if p in self.statements or puids.count(p) > 1})
        if duplicates:
            return JSONResponse({"message": DUPLICATE_MESSAGE,
                                 "errors": {"puid": [DUPLICATE_MESSAGE],
                                            "existing_puids": duplicates}}, status_code=422)
        stored = []
        for statement in statements:
            record = {**statement, "uuid": str(uuid.uuid4())}
            self.statements[statement["puid"]] = record
            stored.append(record)
        return JSONResponse({"statements": stored} if multi else stored[0], status_code=201)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _unprocessable(errors: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"message": "The given data was invalid.", "errors": errors},
                        status_code=422)


def main() -> None:
    import uvicorn

    host = os.environ.get("WARDEN_TDB_STANDIN_HOST", "127.0.0.1")
    port = int(os.environ.get("WARDEN_TDB_STANDIN_PORT", "8098"))
    token = os.environ.get("WARDEN_NOTIFY_TDB_TOKEN", LOCAL_TOKEN)
    uvicorn.run(TransparencyStandIn(token=token).app(), host=host, port=port, log_config=None)


if __name__ == "__main__":
    main()
