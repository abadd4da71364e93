"""A user's free text and identity never reach the logs, whatever happens to the report."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import sqlalchemy as sa

from tests.integration.intake.conftest import signed
from tests.support.kafka import produce, read_records
from warden.intake.examples import example
from warden.shared.contracts import topics

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Everything(logging.Handler):
    """Every record, rendered by the service's own log formatter (what would be written)."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs(intake):
    root = logging.getLogger()
    service_handler = next((h for h in root.handlers if h.formatter is not None), None)
    handler = Everything(service_handler.formatter if service_handler else None)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_user_text_and_identity_are_never_logged(intake, logs):
    name, auth = await intake.new_client()
    secret = f"my-phone-is-{uuid.uuid4().hex}"
    email = f"{uuid.uuid4().hex[:10]}@private.example"

    def report(**changes) -> dict:
        body = example("user")
        body["content"]["id"] = f"post-{uuid.uuid4().hex[:8]}"
        body["text"] = f"Please help, {secret}"
        body["reporter"].update(name=f"Name {secret}", email=email)
        body.update(changes)
        return body

    accepted = await intake.http.post("/v1/reports", json=report(), headers=auth)
    assert accepted.status_code == 201
    art16 = await intake.http.post("/v1/reports", json=report(illegal_content=True),
                                   headers=auth)
    assert art16.status_code == 422
    too_long = await intake.http.post("/v1/reports", json=report(text=secret * 400),
                                      headers=auth)
    assert too_long.status_code == 422
    assert secret not in too_long.text  # the problem document does not echo the input
    batch = await intake.http.post("/v1/reports/batch", headers=auth, json={
        "reports": [report(), report(illegal_content=True), report(locale=secret)]})
    assert [r["status"] for r in batch.json()["results"]] == ["accepted", "rejected",
                                                             "rejected"]
    assert secret not in batch.text

    dead = report(illegal_content=True)
    dead["content"]["id"] += secret
    raw = intake.topic(topics.REPORTS_RAW)
    value = json.dumps(dead).encode()
    await produce(intake.kafka, raw, value, headers=signed(name, auth, value))
    letters = await read_records(intake.kafka, topics.dlq(raw), expect=1, timeout=20,
                                 where=lambda r: secret.encode() in (r.value or b""))
    assert letters, "the invalid raw report reached the DLQ"

    captured = "\n".join(logs.lines)
    assert "event_dead_lettered" in captured  # the capture did see the service's logs
    assert secret not in captured
    assert email not in captured


async def test_database_errors_and_dead_letters_carry_no_user_data(intake, logs):
    """A database that refuses a report (here a check constraint, whose error quotes the
    failing row) over HTTP and over Kafka: neither the logged errors nor the DLQ headers
    (reason, stack trace) may quote the report's text or the reporter's email."""
    name, auth = await intake.new_client()
    secret = f"db-refuses-{uuid.uuid4().hex}"
    email = f"{uuid.uuid4().hex[:10]}@private.example"
    async with intake.runtime.engine.begin() as conn:
        await conn.execute(sa.text(
            "ALTER TABLE reports ADD CONSTRAINT refuses_marked_reports "
            "CHECK (normalized::text NOT LIKE '%db-refuses-%') NOT VALID"))
    try:
        body = example("user")
        body["content"]["id"] = f"post-{uuid.uuid4().hex[:8]}"
        body["text"] = f"Please help, {secret}"
        body["reporter"].update(email=email)

        refused = await intake.http.post("/v1/reports", json=body, headers=auth)
        assert refused.status_code >= 500 and secret not in refused.text

        raw = intake.topic(topics.REPORTS_RAW)
        body["content"]["id"] = f"post-{uuid.uuid4().hex[:8]}"
        value = json.dumps(body).encode()
        await produce(intake.kafka, raw, value, headers=signed(name, auth, value))
        letters = await read_records(intake.kafka, topics.dlq(raw), expect=1, timeout=60,
                                     where=lambda r: secret.encode() in (r.value or b""))
    finally:
        async with intake.runtime.engine.begin() as conn:
            await conn.execute(sa.text(
                "ALTER TABLE reports DROP CONSTRAINT refuses_marked_reports"))
    assert letters, "the refused raw report reached the DLQ"
    headers = {k: v.decode(errors="replace") for k, v in letters[0].headers}
    assert "refuses_marked_reports" in headers["dlq.stacktrace"]  # the error itself is kept
    # PostgreSQL and SQLAlchemy shorten long values, so look for a short piece of them.
    pieces = (secret[:20], email)
    for key, value in headers.items():
        if key.startswith("dlq."):
            assert not [p for p in pieces if p in value], f"{key} quotes user data"

    captured = "\n".join(logs.lines)
    assert "refuses_marked_reports" in captured  # the capture saw the database errors
    assert not [p for p in pieces if p in captured]
