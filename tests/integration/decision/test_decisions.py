"""Deciding a case against real Kafka and PostgreSQL: the lease holder decides, the event
carries what enforcement needs, the statement of reasons is served, bad input is a 422."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.decision.conftest import remove_body
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V2,
    AutomatedDecisionOrder,
    DecisionRecordedV2,
)
from warden.shared.contracts.transparency import validate_statement


async def test_lease_holder_decides_event_and_statement_of_reasons(decision):
    case = await decision.routed_case()
    response = await decision.client.post(f"/v1/cases/{case.case_id}/decisions",
                                          json=remove_body(actions=[{"code": "disable_in_territories"}],
                                                           territorial_scope=["de", "FR"]),
                                          headers=decision.as_holder(case))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["decided_by"], body["stage"]) == ("final", "alice", "review")

    [event] = await decision.events(DECISION_RECORDED_V2, expect=1, settle=1.5)
    recorded = DecisionRecordedV2.model_validate(event.data)
    assert recorded.decision_id == uuid.UUID(body["id"])
    assert recorded.subject == case.subject and recorded.report_ids == case.report_ids
    [action] = recorded.actions
    assert (action.code, action.kind, action.restricts, action.target_id) == \
        ("disable_in_territories", "content", True, case.subject.id)
    assert action.territorial_scope == ["DE", "FR"]
    assert (recorded.policy.policy_id, recorded.policy.ground) == ("CS-HATE-1",
                                                                   "incompatible_content")
    assert (recorded.automated_detection, recorded.automated_decision) == (False,
                                                                           "not_automated")
    assert recorded.appeal.deadline > datetime.now(UTC) + timedelta(days=180)
    sor_ref = recorded.statement_of_reasons
    assert sor_ref.puid == f"warden-{recorded.decision_id}"

    statement = (await decision.client.get(sor_ref.url, headers=decision.auth("bob"))).json()
    assert validate_statement(statement) == {}
    assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["territorial_scope"] == ["DE", "FR"]
    assert statement["puid"] == sor_ref.puid
    assert statement["source_type"] == "SOURCE_ARTICLE_16"

    again = await decision.client.post(f"/v1/cases/{case.case_id}/decisions",
                                       json=remove_body(), headers=decision.as_holder(case))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already decided" in again.json()["detail"]


async def test_only_the_live_lease_holder_may_decide(decision):
    case = await decision.routed_case(queue="child_safety", category="child_endangerment")
    url = f"/v1/cases/{case.case_id}/decisions"
    body = remove_body(policy_id="CSE-1")

    async def refused(headers) -> tuple[int, str | None]:
        r = await decision.client.post(url, json=body, headers=headers)
        errors = r.json().get("errors") or [{}]
        return r.status_code, errors[0].get("type")

    assert await refused(decision.auth("alice")) == (409, "not_claimed")
    assert await refused({**decision.auth("bob"), **decision.lease(case, "alice")}) == \
        (409, "held_by_other")
    assert await refused({**decision.auth("alice"),
                          **decision.lease(case, "alice", expires_in=timedelta(seconds=-5))}
                         ) == (409, "lease_expired")
    assert await refused({**decision.auth("alice"),
                          **decision.lease(case, "alice", queue="general")}) == \
        (409, "transferred")
    other_case = await decision.routed_case()
    assert await refused({**decision.auth("alice"), **decision.lease(other_case, "alice")}) == \
        (409, "not_claimed")
    # The queue's skills: routing put them in the lease; the reviewer's token must have them.
    no_skill = {**decision.auth("alice"),
                **decision.lease(case, "alice", skills=("child_safety",))}
    assert (await decision.client.post(url, json=body, headers=no_skill)).status_code == 403
    forged = {**decision.auth("alice"), "Lease-Token": "not.a.token"}
    assert (await decision.client.post(url, json=body, headers=forged)).status_code == 403
    holder = decision.as_holder(case, "alice", skills=("child_safety",))
    assert (await decision.client.post(url, json=body, headers=holder)).status_code == 201


async def test_two_reviewers_deciding_at_once_exactly_one_wins(decision):
    case = await decision.routed_case()
    url = f"/v1/cases/{case.case_id}/decisions"
    # Both prove a lease (the first one's ran into a release and a new claim).
    responses = await asyncio.gather(*[
        decision.client.post(url, json=remove_body(), headers=decision.as_holder(case, who))
        for who in ("alice", "bob", "carol")])
    assert sorted(r.status_code for r in responses) == [201, 409, 409]
    events = await decision.events(DECISION_RECORDED_V2, expect=1, settle=1.5)
    assert len(events) == 1


async def test_bad_decisions_are_422_naming_the_field(decision):
    ad = await decision.routed_case(subject_type="ad", queue="advertiser_escalations",
                                    category="misleading_ad")
    post = await decision.routed_case()

    async def problem(case, body) -> str:
        r = await decision.client.post(f"/v1/cases/{case.case_id}/decisions", json=body,
                                       headers=decision.as_holder(case))
        assert r.status_code == 422, r.text
        return r.json()["errors"][0]["field"]

    assert await problem(post, remove_body(policy_id="NO-SUCH-POLICY")) == "body.policy_id"
    assert await problem(post, remove_body(actions=[{"code": "disapprove_ad"}])) == \
        "body.actions[0].code"  # a post cannot be disapproved; an ad can
    assert await problem(post, remove_body(actions=[{"code": "obliterate"}])) == \
        "body.actions[0].code"
    assert await problem(post, remove_body(territorial_scope=["DE", "XX"])) == \
        "body.territorial_scope[1]"
    assert await problem(post, remove_body(actions=[
        {"code": "disable_in_territories"}])) == "body.actions[0].territorial_scope"
    assert await problem(post, remove_body(territorial_scope=["DE"])) == \
        "body.actions[0].territorial_scope"  # removal is everywhere, never per country
    assert await problem(post, remove_body(actions=[{"code": "account_suspend"}])) == \
        "body.actions[0].ends_at"  # temporary: needs an end date
    assert await problem(post, remove_body(actions=[{"code": "no_action"},
                                                    {"code": "remove"}])) == \
        "body.actions[0].code"
    assert await problem(post, {"actions": [{"code": "remove"}], "policy_id": "CS-HATE-1"}) \
        == "body.facts"
    # The body is judged before the case: an unknown case with a bad action is still a 422.
    r = await decision.client.post(f"/v1/cases/{uuid.uuid4()}/decisions",
                                   json=remove_body(actions=[{"code": "obliterate"}]),
                                   headers=decision.auth())
    assert r.status_code == 422
    unknown = await decision.client.post(f"/v1/cases/{uuid.uuid4()}/decisions",
                                         json=remove_body(), headers=decision.auth())
    assert unknown.status_code == 404
    ok = await decision.client.post(
        f"/v1/cases/{ad.case_id}/decisions",
        json=remove_body(policy_id="AD-MISLEADING-1", actions=[{"code": "disapprove_ad"}]),
        headers=decision.as_holder(ad))
    assert ok.status_code == 201, ok.text
    anonymous = await decision.client.post(f"/v1/cases/{post.case_id}/decisions",
                                           json=remove_body())
    assert anonymous.status_code == 401


async def test_temporary_suspension_and_strike_threshold(decision):
    """The third active strike on an account adds the suspension the catalogue sets."""
    owner = f"acct-{uuid.uuid4().hex[:6]}"
    ends = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for number in range(1, 4):
        case = await decision.routed_case(owner=owner)
        r = await decision.client.post(
            f"/v1/cases/{case.case_id}/decisions",
            json=remove_body(actions=[{"code": "remove"}, {"code": "strike"}]),
            headers=decision.as_holder(case))
        assert r.status_code == 201, r.text
        codes = [a["code"] for a in r.json()["actions"]]
        assert ("account_suspend" in codes) == (number == 3), codes
    added = next(a for a in r.json()["actions"] if a["code"] == "account_suspend")
    assert added["added_by_rule"] == "strike_threshold:3" and added["ends_at"]
    strikes = (await decision.client.get(f"/v1/accounts/{owner}/strikes",
                                         headers=decision.auth())).json()
    assert strikes["active"] == 3
    statement = (await decision.client.get(r.json()["statement_of_reasons"],
                                           headers=decision.auth())).json()
    assert statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert statement["end_date_account_restriction"]
    case = await decision.routed_case(owner=owner)
    suspended = await decision.client.post(
        f"/v1/cases/{case.case_id}/decisions",
        json=remove_body(actions=[{"code": "suspend_monetisation", "ends_at": ends}]),
        headers=decision.as_holder(case))
    assert suspended.status_code == 201, suspended.text
    assert suspended.json()["actions"][0]["ends_at"]


async def test_routing_rule_decides_automatically(decision):
    case = await decision.routed_case(
        queue="child_safety", category="child_sexual_exploitation", channels=("automated",),
        automated_decision=AutomatedDecisionOrder(
            rule_id="child-safety-hash-match", policy_version="2026.12.1", policy_id="CSE-1",
            actions=["remove"]))
    [event] = await decision.events(DECISION_RECORDED_V2, expect=1)
    recorded = DecisionRecordedV2.model_validate(event.data)
    assert recorded.case_id == case.case_id
    assert (recorded.automated_decision, recorded.automated_detection, recorded.decided_by) \
        == ("fully", True, None)
    assert recorded.automation_rule == "routing:2026.12.1:child-safety-hash-match"
    statement = (await decision.client.get(recorded.statement_of_reasons.url,
                                           headers=decision.auth())).json()
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert statement["automated_detection"] == "Yes"
    assert statement["source_type"] == "SOURCE_VOLUNTARY"
    assert statement["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert CASE_ROUTED_V1  # the case arrived as routing's event


async def test_ops_endpoints(decision):
    assert (await decision.client.get("/healthz")).json() == {"status": "ok"}
    ready = await decision.client.get("/readyz")
    assert ready.status_code == 200, ready.text
