"""A user's free text and identity never reach the logs, whatever happens to the report."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests.integration.intake.conftest import signed
from tests.support.kafka import produce, read_records
from warden.intake.examples import example
from warden.shared.contracts import topics

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.msg!r} {record.args!r} "
                          f"{record.exc_text or ''}")


@pytest.fixture
def logs():
    root = logging.getLogger()
    handler, level = Everything(), root.level
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
