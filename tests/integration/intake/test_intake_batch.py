"""``POST /v1/reports/batch``: a result per item, one bad item never sinks the others."""

from __future__ import annotations

import uuid

import pytest

from tests.support.kafka import read_records
from warden.intake.access import READ_SCOPE, submit_scope
from warden.intake.examples import example
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent

pytestmark = pytest.mark.asyncio(loop_scope="module")


def user_report() -> dict:
    body = example("user")
    body["content"]["id"] = f"post-{uuid.uuid4().hex[:8]}"
    body["client_report_id"] = f"app-{uuid.uuid4().hex}"
    return body


def regulator_order() -> dict:
    body = example("regulator")
    body["order_reference"] = f"ORD-{uuid.uuid4().hex[:10]}"
    return body


async def test_mixed_batch_reports_each_item_and_publishes_only_the_accepted(intake):
    _, auth = await intake.new_client(submit_scope("user"), READ_SCOPE)
    first = user_report()
    missing_reporter = user_report()
    del missing_reporter["reporter"]
    batch = [first, missing_reporter, regulator_order(), dict(first), user_report(),
             {"channel": "telegram"}]
    response = await intake.http.post("/v1/reports/batch", json={"reports": batch},
                                      headers={**auth, "Idempotency-Key": "batch-1"})
    assert response.status_code == 200, response.text
    out = response.json()
    results = out["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "duplicate",
                                             "accepted", "rejected"]
    assert [r["code"] for r in results] == [201, 422, 403, 200, 201, 422]
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (2, 1, 3)
    assert results[3]["report_id"] == results[0]["report_id"]
    assert {e["field"] for e in results[1]["errors"]} == {"reporter"}
    assert "submit:regulator" in results[2]["detail"]
    assert {e["field"] for e in results[5]["errors"]} == {"channel"}

    accepted = {results[0]["report_id"], results[4]["report_id"]}
    for report_id in accepted:
        read = await intake.http.get(f"/v1/reports/{report_id}", headers=auth)
        assert read.status_code == 200 and read.json()["status"] == "received"

    def ours(record) -> bool:
        return CloudEvent.from_bytes(record.value).data["report_id"] in accepted

    records = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                 expect=2, timeout=20, where=ours, settle=1)
    assert len(records) == 2

    # The same batch again with the same key: the same reports, as duplicates.
    again = await intake.http.post("/v1/reports/batch", json={"reports": batch},
                                   headers={**auth, "Idempotency-Key": "batch-1"})
    replayed = again.json()["results"]
    assert [r["status"] for r in replayed] == ["duplicate", "rejected", "rejected", "duplicate",
                                              "duplicate", "rejected"]
    assert replayed[0]["report_id"] == results[0]["report_id"]
    assert replayed[4]["report_id"] == results[4]["report_id"]


async def test_batch_limits_and_permissions(intake):
    _, auth = await intake.new_client()
    too_many = await intake.http.post("/v1/reports/batch",
                                      json={"reports": [user_report()] * 501}, headers=auth)
    assert too_many.status_code == 422
    assert {e["field"] for e in too_many.json()["errors"]} == {"body.reports"}
    empty = await intake.http.post("/v1/reports/batch", json={"reports": []}, headers=auth)
    assert empty.status_code == 422
    _, reader = await intake.new_client(READ_SCOPE)
    forbidden = await intake.http.post("/v1/reports/batch", json={"reports": [user_report()]},
                                       headers=reader)
    assert forbidden.status_code == 403
    unauthenticated = await intake.http.post("/v1/reports/batch",
                                             json={"reports": [user_report()]})
    assert unauthenticated.status_code == 401


async def test_full_batch_of_500_is_accepted(intake):
    _, auth = await intake.new_client()
    batch = [user_report() for _ in range(500)]
    response = await intake.http.post("/v1/reports/batch", json={"reports": batch}, headers=auth)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["accepted"] == 500
    assert len({r["report_id"] for r in out["results"]}) == 500
