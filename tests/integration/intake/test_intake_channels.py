"""Every channel over HTTP: accepted and normalised, refused with the field at fault,
deduplicated (also under concurrent resends), and only for clients with the scope."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from tests.support.kafka import read_records
from warden.intake.access import ALL_SCOPES, READ_SCOPE, submit_scope
from warden.intake.channels import (
    AdvertiserEscalation,
    AutomatedSignal,
    RegulatorOrder,
    RightsHolderNotice,
    TrustedFlaggerNotice,
    UserReport,
)
from warden.intake.examples import example
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import REPORT_NORMALIZED_V1

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNELS = ["user", "trusted_flagger", "regulator", "rights_holder", "advertiser", "automated"]
MODELS: dict[str, type[BaseModel]] = {
    "user": UserReport, "trusted_flagger": TrustedFlaggerNotice, "regulator": RegulatorOrder,
    "rights_holder": RightsHolderNotice, "advertiser": AdvertiserEscalation,
    "automated": AutomatedSignal,
}
EXTERNAL_ID = {"user": "client_report_id", "trusted_flagger": "notice_id",
               "regulator": "order_reference", "rights_holder": "notice_id",
               "advertiser": "escalation_id", "automated": "signal_id"}
# Required by law rather than by the shape: the DSA Art. 16 notice elements, and a
# detector's evidence (a score or a hash match).
LEGALLY_REQUIRED = {
    "trusted_flagger": ["explanation", "good_faith_statement", "flagger.contact_email",
                        "content.url"],
    "rights_holder": ["explanation", "sworn_statement", "rights_holder.email", "content.url"],
    "automated": ["score"],
}
WRONG_TYPES = {
    "user": [("illegal_content", "yes"), ("content.id", 123), ("jurisdictions", "DE")],
    "trusted_flagger": [("good_faith_statement", "true"), ("flagger", "Example e.V.")],
    "regulator": [("territorial_scope", "DE"), ("deadline", 1767225600),
                  ("order_type", "strongly_worded_letter")],
    "rights_holder": [("sworn_statement", 1), ("right.type", "patent")],
    "advertiser": [("business_impact.daily_spend_at_risk", "12000"), ("concern", True)],
    "automated": [("score", "0.97"), ("score", 1.5), ("detector.version", 3)],
}


def unique(channel: str) -> dict:
    """The channel's example about a fresh subject, with a fresh external id."""
    body = example(channel)
    body["content"]["id"] = f"{body['content']['id']}-{uuid.uuid4().hex[:8]}"
    body[EXTERNAL_ID[channel]] = f"{channel}-{uuid.uuid4().hex}"
    return body


def without(body: dict, path: str) -> dict:
    *parents, leaf = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target.pop(leaf, None)
    return body


def replaced(body: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    return body


def required_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        if name == "channel" or not field.is_required():
            continue
        paths.append(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            paths += required_paths(field.annotation, f"{prefix}{name}.")
    return paths


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def problem_fields(response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


async def count_reports(intake, **where) -> int:
    clauses = " AND ".join(f"{k} = :{k}" for k in where)
    async with intake.runtime.engine.connect() as conn:
        return await conn.scalar(sa.text(f"SELECT count(*) FROM reports WHERE {clauses}"), where)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_valid_report_is_created_normalised_and_readable(intake, channel):
    _, auth = await intake.new_client()
    body = unique(channel)
    created = await intake.http.post("/v1/reports", json=body, headers=auth)
    assert created.status_code == 201, created.text
    out = created.json()
    assert created.headers["location"] == f"/v1/reports/{out['id']}"
    assert "idempotent-replayed" not in created.headers
    assert (out["status"], out["duplicate"], out["channel"]) == ("received", False, channel)
    report = out["report"]
    assert report["report_id"] == out["id"]
    assert report["subject"]["id"] == body["content"]["id"]
    assert report["external_id"] == body[EXTERNAL_ID[channel]]
    assert report["dsa_category"].startswith("STATEMENT_CATEGORY_")
    assert report["priority_handling"] is (channel == "trusted_flagger")
    if channel == "regulator":
        assert parse_time(report["legal"]["deadline"]) == (
            parse_time(out["received_at"]) + timedelta(hours=1))
    read = await intake.http.get(f"/v1/reports/{out['id']}", headers=auth)
    assert read.status_code == 200
    assert read.json()["report"] == report and read.json()["status"] == "received"


async def test_each_accepted_report_is_published_once_keyed_by_its_subject(intake):
    _, auth = await intake.new_client()
    sent = {}
    for channel in CHANNELS:
        body = unique(channel)
        response = await intake.http.post("/v1/reports", json=body, headers=auth)
        assert response.status_code == 201
        sent[response.json()["id"]] = body["content"]["id"]
        await intake.http.post("/v1/reports", json=body, headers=auth)  # a resend: no event

    def ours(record) -> bool:
        return CloudEvent.from_bytes(record.value).data["report_id"] in sent

    # Settling a second after the six arrived proves the resends published nothing.
    records = await read_records(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                 expect=len(sent), timeout=20, where=ours, settle=1)
    events = [CloudEvent.from_bytes(r.value) for r in records]
    assert sorted(e.data["report_id"] for e in events) == sorted(sent)
    for record, event in zip(records, events, strict=True):
        assert event.type == REPORT_NORMALIZED_V1 and event.source == "/warden/intake"
        assert record.key.decode() == event.subject == sent[event.data["report_id"]]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_each_required_field_missing_is_a_422_naming_it(intake, channel):
    _, auth = await intake.new_client()
    paths = required_paths(MODELS[channel]) + LEGALLY_REQUIRED.get(channel, [])
    assert len(paths) >= 3
    for path in paths:
        response = await intake.http.post("/v1/reports", json=without(unique(channel), path),
                                          headers=auth)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert f"body.{path}" in problem_fields(response), (path, response.json())


@pytest.mark.parametrize("channel", CHANNELS)
async def test_wrong_types_are_422_naming_the_field(intake, channel):
    _, auth = await intake.new_client()
    for path, value in WRONG_TYPES[channel]:
        body = replaced(unique(channel), path, value)
        response = await intake.http.post("/v1/reports", json=body, headers=auth)
        assert response.status_code == 422, (path, response.text)
        assert any(f.startswith(f"body.{path}") for f in problem_fields(response)), (
            path, response.json())


async def test_malformed_bodies_are_422_not_500(intake):
    _, auth = await intake.new_client()
    headers = {**auth, "content-type": "application/json"}
    malformed = [b"{not json", b"[]", b"null", b'"text"', b"", b'{"channel": 7}',
                 '{"channel": "user", "reporter": "\u00e9"}'.encode(), b'{"a": NaN}',
                 b'\xff\xfe{}', '{"channel": "user"}'.encode("utf-16")]
    for raw in malformed:
        response = await intake.http.post("/v1/reports", content=raw, headers=headers)
        assert response.status_code == 422, (raw, response.text)
        assert response.json()["status"] == 422


@pytest.mark.parametrize("channel", CHANNELS)
async def test_oversized_body_is_413(intake, channel):
    _, auth = await intake.new_client()
    body = unique(channel)
    body["padding"] = "x" * 450_000
    response = await intake.http.post("/v1/reports", json=body, headers=auth)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(intake.settings.max_body_bytes) in response.json()["detail"]


async def test_oversized_streamed_body_without_length_is_413(intake):
    _, auth = await intake.new_client()

    async def chunks():
        for _ in range(100):
            yield b"x" * 5000

    response = await intake.http.post("/v1/reports", content=chunks(),
                                      headers={**auth, "content-type": "application/json"})
    assert response.status_code == 413


async def test_wrong_content_type_is_415(intake):
    _, auth = await intake.new_client()
    body = json.dumps(unique("user"))
    for content_type in ["text/plain", "application/x-www-form-urlencoded", None]:
        headers = dict(auth)
        if content_type:
            headers["content-type"] = content_type
        response = await intake.http.post("/v1/reports", content=body, headers=headers)
        assert response.status_code == 415, content_type
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_resend_with_the_idempotency_key_returns_the_first_report(intake, channel):
    _, auth = await intake.new_client()
    body = unique(channel)
    if not MODELS[channel].model_fields[EXTERNAL_ID[channel]].is_required():
        del body[EXTERNAL_ID[channel]]
    headers = {**auth, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await intake.http.post("/v1/reports", json=body, headers=headers)
    again = await intake.http.post("/v1/reports", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["report"] == first.json()["report"]
    if EXTERNAL_ID[channel] not in body:
        # Without key or external id the same body is a new report: nothing identifies a resend.
        other = await intake.http.post("/v1/reports", json=body, headers=auth)
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_resend_with_the_channel_external_id_returns_the_first_report(intake, channel):
    _, auth = await intake.new_client()
    body = unique(channel)
    first = await intake.http.post("/v1/reports", json=body, headers=auth)
    again = await intake.http.post("/v1/reports", json=body, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert await count_reports(intake, external_id=body[EXTERNAL_ID[channel]]) == 1


async def test_the_same_key_for_a_different_report_is_refused(intake):
    _, auth = await intake.new_client()
    headers = {**auth, "Idempotency-Key": "reused-key"}
    first = await intake.http.post("/v1/reports", json=unique("user"), headers=headers)
    other = await intake.http.post("/v1/reports", json=unique("user"), headers=headers)
    assert (first.status_code, other.status_code) == (201, 422)
    assert other.json()["type"] == "urn:warden:problem:idempotency-key-reused"
    assert problem_fields(other) == {"header.Idempotency-Key"}


async def test_idempotency_keys_are_scoped_per_client(intake):
    _, first_client = await intake.new_client()
    _, second_client = await intake.new_client()
    body = unique("user")
    del body["client_report_id"]
    one = await intake.http.post("/v1/reports", json=body,
                                 headers={**first_client, "Idempotency-Key": "shared"})
    two = await intake.http.post("/v1/reports", json=body,
                                 headers={**second_client, "Idempotency-Key": "shared"})
    assert (one.status_code, two.status_code) == (201, 201)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_concurrent_resends_store_one_report(intake, channel):
    _, auth = await intake.new_client()
    body = unique(channel)
    headers = {**auth, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    responses = await asyncio.gather(*[intake.http.post("/v1/reports", json=body, headers=headers)
                                       for _ in range(8)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_reports(intake, external_id=body[EXTERNAL_ID[channel]]) == 1
    # The same race on the external id alone (different keys, same notice/order id).
    body = unique(channel)
    responses = await asyncio.gather(*[
        intake.http.post("/v1/reports", json=body, headers={**auth, "Idempotency-Key": f"k{i}"})
        for i in range(8)])
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_client_without_the_channel_scope_is_forbidden(intake, channel):
    others = [s for s in ALL_SCOPES if s != submit_scope(channel)]
    _, auth = await intake.new_client(*others)
    response = await intake.http.post("/v1/reports", json=unique(channel), headers=auth)
    assert response.status_code == 403
    assert submit_scope(channel) in response.json()["detail"]


async def test_missing_or_unknown_api_key_is_401(intake):
    body = unique("user")
    missing = await intake.http.post("/v1/reports", json=body)
    unknown = await intake.http.post("/v1/reports", json=body, headers={"X-API-Key": "wik_nope"})
    for response in (missing, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("ApiKey")
    assert (await intake.http.get(f"/v1/reports/{uuid.uuid4()}")).status_code == 401


async def test_a_client_reads_only_its_own_reports_and_needs_the_read_scope(intake):
    _, owner = await intake.new_client()
    _, stranger = await intake.new_client()
    _, writer_only = await intake.new_client(submit_scope("user"))
    created = await intake.http.post("/v1/reports", json=unique("user"), headers=writer_only)
    report_id = created.json()["id"]
    assert (await intake.http.get(f"/v1/reports/{report_id}", headers=writer_only)
            ).status_code == 403
    assert (await intake.http.get(f"/v1/reports/{report_id}", headers=stranger)).status_code == 404
    assert (await intake.http.get(f"/v1/reports/{uuid.uuid4()}", headers=owner)).status_code == 404
    assert (await intake.http.get("/v1/reports/not-a-uuid", headers=owner)).status_code == 422


async def test_a_client_over_its_rate_gets_429_with_retry_after(intake):
    _, auth = await intake.new_client(submit_scope("user"), READ_SCOPE, rate=0.01, burst=2)
    statuses = []
    for _ in range(3):
        statuses.append(await intake.http.post("/v1/reports", json=unique("user"), headers=auth))
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert int(statuses[-1].headers["retry-after"]) >= 1
    assert statuses[-1].headers["content-type"] == "application/problem+json"
    _, other = await intake.new_client()
    assert (await intake.http.post("/v1/reports", json=unique("user"), headers=other)
            ).status_code == 201


async def test_revoked_key_stops_working_after_the_cache_ttl(intake):
    from warden.shared.apikeys.store import revoke_client

    name, auth = await intake.new_client()
    assert (await intake.http.post("/v1/reports", json=unique("user"), headers=auth)
            ).status_code == 201
    assert await revoke_client(intake.runtime.sessions, name)
    intake.runtime.extras["api_keys"].forget()  # as after auth_cache_ttl_s
    assert (await intake.http.post("/v1/reports", json=unique("user"), headers=auth)
            ).status_code == 401
