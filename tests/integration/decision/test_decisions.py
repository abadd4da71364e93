"""Decision service against real Kafka and PostgreSQL: routed cases in, decisions out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.apps import eventually, running
from tests.support.kafka import produce_event, read_events
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V1,
    CaseRoutedV1,
    Subject,
)


@pytest.fixture
async def decision(infra, topic_prefix, make_database):
    settings = DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                                kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix)
    async with running(create_app(settings)) as client:
        yield settings, client


def auth(settings, reviewer="alice", roles=("reviewer",)) -> dict[str, str]:
    token = issue_reviewer_token(settings.reviewer_token_secret, reviewer, [], list(roles))
    return {"Authorization": f"Bearer {token}"}


async def route_case(settings, infra) -> CaseRoutedV1:
    now = datetime.now(UTC)
    routed = CaseRoutedV1(
        case_id=uuid.uuid4(), subject=Subject(type="content", id=f"post-{uuid.uuid4().hex[:6]}"),
        policy_area="community_standards", category="hate_speech", queue="hate_harassment",
        priority=40, due_at=now + timedelta(hours=24), reason="opened",
        report_ids=[uuid.uuid4()], rule_id="hate", policy_version="test", routed_at=now)
    event = new_event(type=CASE_ROUTED_V1, source="/warden/routing", subject=routed.subject.id,
                      payload=routed)
    await produce_event(infra.kafka, settings.topic(topics.CASES_ROUTED), event, routed.subject.id)
    return routed


DECISION = {"action": "remove", "policy_cited": "CS-3.1 hate speech",
            "rationale": "dehumanising slur aimed at a protected group"}


async def wait_known(client, settings, case_id) -> None:
    async def known():
        r = await client.get(f"/v1/cases/{case_id}/decisions", headers=auth(settings))
        return r.status_code == 200
    await eventually(known, what="the routed case to reach the decision service")


async def test_decision_on_routed_case_is_recorded_and_published_once(decision, infra):
    settings, client = decision
    routed = await route_case(settings, infra)
    await wait_known(client, settings, routed.case_id)

    async def post():
        r = await client.post(f"/v1/cases/{routed.case_id}/decisions", json=DECISION,
                              headers=auth(settings))
        return r if r.status_code != 404 else None
    response = await eventually(post, what="the case to be known")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["action"] == "remove" and body["reviewer_id"] == "alice" and body["restricts"]

    events = await read_events(infra.kafka, settings.topic(topics.DECISIONS_RECORDED), expect=1,
                               event_type=DECISION_RECORDED_V1, settle=2)
    assert len(events) == 1
    payload = events[0].data
    assert payload["decision_id"] == body["id"]
    assert payload["case_id"] == str(routed.case_id)
    assert payload["report_ids"] == [str(r) for r in routed.report_ids]
    assert payload["dsa_category"] == "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"

    second = await client.post(f"/v1/cases/{routed.case_id}/decisions", json=DECISION,
                               headers=auth(settings, "bob"))
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"


async def test_decision_on_unknown_case_is_404_problem(decision):
    settings, client = decision
    response = await client.post(f"/v1/cases/{uuid.uuid4()}/decisions", json=DECISION,
                                 headers=auth(settings))
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"


async def test_bad_input_and_missing_credentials_are_4xx_problems(decision, infra):
    settings, client = decision
    routed = await route_case(settings, infra)
    await wait_known(client, settings, routed.case_id)
    unknown_action = await client.post(f"/v1/cases/{routed.case_id}/decisions",
                                       json={**DECISION, "action": "obliterate"},
                                       headers=auth(settings))
    assert unknown_action.status_code == 422
    assert unknown_action.json()["errors"][0]["field"] == "body.action"
    bad_body_unknown_case = await client.post(f"/v1/cases/{uuid.uuid4()}/decisions",
                                              json={**DECISION, "action": "obliterate"},
                                              headers=auth(settings))
    assert bad_body_unknown_case.status_code == 422  # the body is judged before the case
    missing_rationale = await client.post(f"/v1/cases/{routed.case_id}/decisions",
                                          json={"action": "remove", "policy_cited": "x"},
                                          headers=auth(settings))
    assert missing_rationale.status_code == 422
    assert any(e["field"] == "body.rationale" for e in missing_rationale.json()["errors"])
    anonymous = await client.post(f"/v1/cases/{routed.case_id}/decisions", json=DECISION)
    assert anonymous.status_code == 401
    forged = await client.post(f"/v1/cases/{routed.case_id}/decisions", json=DECISION,
                               headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    not_a_reviewer = await client.post(f"/v1/cases/{routed.case_id}/decisions", json=DECISION,
                                       headers=auth(settings, roles=("viewer",)))
    assert not_a_reviewer.status_code == 403


async def test_ops_endpoints(decision):
    _, client = decision
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    async def ready():  # the relay is ready after its first round; each check has a deadline
        response = await client.get("/readyz")
        return response if response.status_code == 200 else None
    ready = await eventually(ready, timeout=30, what="/readyz to answer 200")
    assert ready.json()["checks"]["database"]["ok"] is True
    metrics = await client.get("/metrics")
    assert "warden_http_requests_total" in metrics.text
