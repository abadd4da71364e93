"""The operator API for endpoints and templates: URL validation, secret rotation, preview."""

from __future__ import annotations

import json

import pytest

from tests.integration.notify.conftest import (
    SECRET,
    decision_v2_event,
    operator_headers,
    publish,
    report_event,
    spec_verify,
)
from tests.support.apps import eventually, running
from warden.notify.app import create_app
from warden.shared.contracts import topics


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "gopher://hooks.example/x"}, "body.url"),
    ({"url": "http://hooks.example:99999/x"}, "body.url"),
    ({"url": "https://user:secret@hooks.example/x"}, "body.url"),
    ({"kind": "email", "url": "https://mail.example"}, "body.url"),
    ({"audiences": ["everyone"]}, "body.audiences"),
    ({"kind": "transparency_db", "url": "https://tdb.example", "audiences": ["transparency_db"]},
     "body.secret"),
])
async def test_bad_endpoints_are_422_naming_the_field(receiver, make_settings, body, field):
    settings = make_settings(receiver.url)
    async with running(create_app(settings)) as client:
        response = await client.post("/v1/endpoints", headers=operator_headers(settings),
                                     json={"name": "partner", "url": "https://hooks.example/x",
                                           "audiences": ["reporter"], **body})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
        receiver, make_settings):
    settings = make_settings(receiver.url)
    headers = operator_headers(settings)
    async with running(create_app(settings)) as client:
        [endpoint] = (await client.get("/v1/endpoints", headers=headers)).json()
        rotated = await client.post(f"/v1/endpoints/{endpoint['id']}/rotate-secret",
                                    json={"overlap_s": 3600}, headers=headers)
        new_secret = rotated.json()["secret"]
        await publish(settings, topics.REPORTS_NORMALIZED, report_event("user")[0])
        [during] = await eventually(lambda: receiver.got(1), what="a webhook during overlap")
        ended = await client.post(f"/v1/endpoints/{endpoint['id']}/rotate-secret",
                                  json={"overlap_s": 0, "secret": new_secret}, headers=headers)
        await publish(settings, topics.REPORTS_NORMALIZED, report_event("user")[0])
        got = await eventually(lambda: receiver.got(2), what="a webhook after it")

    assert rotated.status_code == 200 and rotated.json()["previous_secret_expires_at"]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert spec_verify(SECRET, during)      # a receiver not yet switched
    assert spec_verify(new_secret, during)  # and one that has
    assert ended.status_code == 200
    after = got[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert spec_verify(new_secret, after)
    with pytest.raises(AssertionError):
        spec_verify(SECRET, after)


async def test_preview_renders_the_notices_of_an_event_in_a_locale(receiver, make_settings):
    settings = make_settings(receiver.url)
    _, report = report_event("user")
    decision, decided = decision_v2_event(subject=report.subject, report_ids=[report.report_id])
    async with running(create_app(settings)) as client:
        headers = operator_headers(settings)
        preview = await client.post("/v1/templates/preview", headers=headers, json={
            "event": json.loads(decision.to_bytes()), "locale": "it-IT"})
        bad = await client.post("/v1/templates/preview", headers=headers,
                                json={"event": {"type": "warden.made.up.v1"}})
        anonymous = await client.post("/v1/templates/preview", json={"event": {}})
    assert preview.status_code == 200
    notices = {n["notice"]: n for n in preview.json()}
    assert notices["statement_of_reasons"]["subject"] == \
        f"Motivazione: abbiamo limitato il suo contenuto {report.subject.id}"
    assert notices["statement_of_reasons"]["locale"] == "it"
    assert "&lt;b&gt;inciting&lt;/b&gt;" in notices["statement_of_reasons"]["html"]
    assert notices["transparency_statement"]["document"]["puid"] == \
        decided.statement_of_reasons.puid
    assert "reporter_outcome" in notices
    assert bad.status_code == 422 and anonymous.status_code == 401
    assert receiver.received == []  # a preview sends nothing
