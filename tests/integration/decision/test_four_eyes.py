"""Four-eyes: severe actions wait for a second reviewer; approve, reject and expiry."""

from __future__ import annotations

from tests.integration.decision.conftest import remove_body
from tests.support.apps import eventually
from warden.shared.contracts.events import (
    DECISION_APPROVAL_CLOSED_V1,
    DECISION_PENDING_APPROVAL_V1,
    DECISION_RECORDED_V2,
    DecisionRecordedV2,
)

TERMINATE = remove_body(actions=[{"code": "remove"}, {"code": "account_terminate"}])


async def pending(decision, case, reviewer="alice", skills=()) -> dict:
    r = await decision.client.post(f"/v1/cases/{case.case_id}/decisions", json=TERMINATE,
                                   headers=decision.as_holder(case, reviewer, skills))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending_approval"
    return r.json()


async def test_approval_by_a_second_reviewer_makes_it_final(decision):
    case = await decision.routed_case()
    first = await pending(decision, case)
    [held] = await decision.events(DECISION_PENDING_APPROVAL_V1, expect=1)
    assert held.data["decision_id"] == first["id"] and held.data["decided_by"] == "alice"
    assert first["statement_of_reasons"] is None  # nothing is final, nothing is told

    waiting = (await decision.client.get("/v1/approvals", headers=decision.auth("bob"))).json()
    assert [(w["decision"]["id"], w["you_can_approve"]) for w in waiting] == [(first["id"], True)]
    own = (await decision.client.get("/v1/approvals", headers=decision.auth("alice"))).json()
    assert own[0]["you_can_approve"] is False

    url = f"/v1/decisions/{first['id']}"
    self_approval = await decision.client.post(f"{url}/approve", json={"reason": "fine"},
                                               headers=decision.auth("alice"))
    assert self_approval.status_code == 403
    approved = await decision.client.post(f"{url}/approve",
                                          json={"reason": "repeat offender, verified"},
                                          headers=decision.auth("bob"))
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("final", "bob")
    [event] = await decision.events(DECISION_RECORDED_V2, expect=1, settle=1)
    recorded = DecisionRecordedV2.model_validate(event.data)
    assert (recorded.decided_by, recorded.approved_by) == ("alice", "bob")
    assert {a.code for a in recorded.actions} == {"remove", "account_terminate"}
    statement = (await decision.client.get(recorded.statement_of_reasons.url,
                                           headers=decision.auth())).json()
    assert statement["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    twice = await decision.client.post(f"{url}/approve", json={"reason": "again"},
                                       headers=decision.auth("carol"))
    assert twice.status_code == 409


async def test_approver_needs_the_queue_skills(decision):
    case = await decision.routed_case(queue="child_safety", category="child_endangerment")
    first = await pending(decision, case, skills=("child_safety",))
    url = f"/v1/decisions/{first['id']}/approve"
    unskilled = await decision.client.post(url, json={"reason": "ok"},
                                           headers=decision.auth("bob"))
    assert unskilled.status_code == 403
    skilled = await decision.client.post(url, json={"reason": "ok"},
                                         headers=decision.auth("bob", ("child_safety",)))
    assert skilled.status_code == 200, skilled.text


async def test_rejection_emits_nothing_final_and_the_case_can_be_decided_again(decision):
    case = await decision.routed_case()
    first = await pending(decision, case)
    rejected = await decision.client.post(f"/v1/decisions/{first['id']}/reject",
                                          json={"reason": "a first offence: suspend instead"},
                                          headers=decision.auth("bob"))
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["closed_by"]) == ("rejected", "bob")
    [closed] = await decision.events(DECISION_APPROVAL_CLOSED_V1, expect=1)
    assert (closed.data["outcome"], closed.data["reason"]) == \
        ("rejected", "a first offence: suspend instead")
    again = await decision.client.post(f"/v1/cases/{case.case_id}/decisions",
                                       json=remove_body(), headers=decision.as_holder(case))
    assert again.status_code == 201, again.text
    events = await decision.events(DECISION_RECORDED_V2, expect=1, settle=1)
    assert [e.data["decision_id"] for e in events] == [again.json()["id"]]


async def test_an_unapproved_decision_expires_and_the_case_returns(infra, decision_settings):
    from tests.integration.decision.conftest import DecisionApp
    from tests.support.apps import running
    from warden.decision.app import create_app

    settings = decision_settings.model_copy(update={"approval_ttl_s": 1.0})
    async with running(create_app(settings)) as client:
        app = DecisionApp(settings=settings, client=client, kafka=infra.kafka)
        case = await app.routed_case()
        first = await pending(app, case)

        async def expired():
            r = await client.get(f"/v1/decisions/{first['id']}", headers=app.auth())
            return r.json()["status"] == "expired"
        await eventually(expired, what="the pending decision to expire")
        [closed] = await app.events(DECISION_APPROVAL_CLOSED_V1, expect=1)
        assert closed.data["outcome"] == "expired" and closed.data["closed_by"] is None
        late = await client.post(f"/v1/decisions/{first['id']}/approve",
                                 json={"reason": "ok"}, headers=app.auth("bob"))
        assert late.status_code == 409
        again = await client.post(f"/v1/cases/{case.case_id}/decisions",
                                  json=remove_body(), headers=app.as_holder(case, "carol"))
        assert again.status_code == 201, again.text
