"""The helpers every service shares: clock, cursors, problem documents, named problems, the
runtime dependency."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from warden.shared import cursors
from warden.shared.clock import utcnow
from warden.shared.dependencies import RuntimeDep, from_runtime
from warden.shared.errors import InvalidInput
from warden.shared.named_problems import (
    DocumentError,
    Problems,
    read_document,
    validated,
    yaml_mapping,
)
from warden.shared.problems import problem_document, send_problem

MOMENT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_the_clock_is_aware_and_in_utc():
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)


def test_a_cursor_round_trips_each_kind_of_part():
    case_id = uuid.uuid4()
    cursor = cursors.encode_cursor(7, MOMENT, case_id, "general")
    assert "=" not in cursor and cursor.isascii()
    assert cursors.decode_cursor(cursor, int, datetime, uuid.UUID, str) == (
        7, MOMENT, case_id, "general")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor", "", "e30",  # "{}": JSON, but not a list
    cursors.encode_cursor(7, MOMENT),  # one part short
    cursors.encode_cursor("7", MOMENT, uuid.uuid4()),  # a string where an integer goes
    cursors.encode_cursor(True, MOMENT, uuid.uuid4()),  # a boolean is no integer
    cursors.encode_cursor(7, MOMENT.replace(tzinfo=None), uuid.uuid4()),  # naive time
    cursors.encode_cursor(7, MOMENT, "not-a-uuid"),
    cursors.encode_cursor(7, MOMENT, uuid.uuid4())[:-4],  # truncated
])
def test_a_foreign_cursor_is_a_422_naming_the_query_parameter(cursor):
    with pytest.raises(InvalidInput) as err:
        cursors.decode_cursor(cursor, int, datetime, uuid.UUID)
    assert err.value.errors == [{"field": "query.cursor", "type": "cursor",
                                 "message": "pass back next_cursor unchanged"}]


def test_problem_document_carries_errors_only_when_there_are_some():
    plain = problem_document(status=404, title="Not found", detail="no case x",
                             slug="not-found", instance="/v1/cases/x")
    assert plain == {"type": "urn:warden:problem:not-found", "title": "Not found",
                     "status": 404, "detail": "no case x", "instance": "/v1/cases/x"}
    errors = [{"field": "body", "message": "not UTF-8", "type": "encoding"}]
    assert problem_document(status=422, title="Invalid input", detail="d", slug="invalid-input",
                            instance="/v1/reports", errors=errors)["errors"] == errors


def test_middleware_problem_is_the_same_document_and_closes_the_connection():
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(send_problem({"path": "/v1/reports"}, send, 413, "Payload too large",
                             "too big", "payload-too-large"))
    start, body = sent
    assert start["status"] == 413
    assert dict(start["headers"])[b"content-type"] == b"application/problem+json"
    assert dict(start["headers"])[b"connection"] == b"close"
    assert json.loads(body["body"]) == problem_document(
        status=413, title="Payload too large", detail="too big", slug="payload-too-large",
        instance="/v1/reports")


class ThingError(DocumentError):
    document = "thing file"


class Thing(BaseModel):
    name: str = Field(min_length=1)
    size: int


def test_named_problems_sum_up_the_first_five_and_keep_them_all():
    problems = Problems()
    for index in range(7):
        problems.add(f"items[{index}]", "bad", "value")
    error = ThingError.of("things.yaml", problems)
    assert isinstance(error, InvalidInput) and error.status == 422
    assert error.errors == list(problems) and len(error.errors) == 7
    assert str(error).startswith("thing file things.yaml is invalid: items[0]: bad; ")
    assert str(error).endswith("items[4]: bad (and 2 more)")


def test_a_document_is_read_parsed_and_validated_with_every_problem_named(tmp_path):
    with pytest.raises(ThingError) as err:
        read_document(tmp_path / "missing.yaml", ThingError)
    assert err.value.errors[0]["field"] == "<file>" and err.value.errors[0]["type"] == "io"
    with pytest.raises(ThingError) as err:
        yaml_mapping("a: [", "t.yaml", ThingError)
    assert err.value.errors[0]["type"] == "yaml"
    with pytest.raises(ThingError) as err:
        yaml_mapping("- a list", "t.yaml", ThingError)
    assert err.value.errors[0]["message"] == "must be a YAML mapping"
    with pytest.raises(ThingError) as err:
        validated(Thing, {"name": "", "size": "big"}, "t.yaml", ThingError)
    assert {e["field"] for e in err.value.errors} == {"name", "size"}
    with pytest.raises(ThingError) as err:
        validated(Thing, {"name": ""}, "t.yaml", ThingError, field=lambda loc: f"thing.{loc[0]}")
    assert {e["field"] for e in err.value.errors} == {"thing.name", "thing.size"}
    assert validated(Thing, {"name": "a", "size": 1}, "t.yaml", ThingError).size == 1


class FakeRuntime:
    extras = {"context": "the service's context"}


# Module level: annotations are strings here (PEP 563), resolved in the module's globals.
ContextDep = Annotated[str, Depends(from_runtime(lambda rt: rt.extras["context"]))]


def test_routes_reach_the_runtime_and_what_it_holds():
    app = FastAPI()
    app.state.runtime = FakeRuntime()

    @app.get("/probe")
    async def probe(rt: RuntimeDep, ctx: ContextDep) -> dict[str, str]:
        return {"runtime": type(rt).__name__, "context": ctx}

    async def call() -> dict[str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/probe")).json()

    assert asyncio.run(call()) == {"runtime": "FakeRuntime", "context": "the service's context"}


def test_a_connection_left_mid_operation_counts_as_the_database_being_unreachable():
    """Seen once during a PostgreSQL restart: the client's protocol still busy. A 503 the
    client retries, not a 500 (nor a dead letter for a consumer)."""
    import asyncpg

    from warden.shared.db import is_database_unreachable

    assert is_database_unreachable(asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"))
    assert is_database_unreachable(asyncpg.InterfaceError("connection is closed"))
    assert not is_database_unreachable(asyncpg.DivisionByZeroError("division by zero"))
