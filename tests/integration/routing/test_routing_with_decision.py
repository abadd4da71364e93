"""Routing and decision together, through the real decision path: a claimed case is
decided with routing's lease token, routing closes it, an appeal reopens it in the appeals
queue for another reviewer, and the reversal closes it again. A decision awaiting four-eyes
keeps the case with its reviewer; rejected or expired, the case goes back to its queue."""

from __future__ import annotations

from tests.integration.decision.conftest import (  # noqa: F401 (fixtures)
    APPEAL_KEY,
    decision,
    decision_settings,
    remove_body,
)
from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from warden.shared.lease_tokens import HEADER


async def test_appeal_goes_through_the_real_decision_path(routing_app, decision):
    report = make_report(category="hate_speech")
    report = report.model_copy(update={"subject": report.subject.model_copy(
        update={"owner_id": "acct-42"})})
    await routing_app.send_report(report)
    case = await routing_app.wait_case(report)
    await decision.known(case["id"])

    claim = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                          headers=routing_app.auth("alice"))
    assert claim.status_code == 200, claim.text
    token = claim.json()["lease_token"]
    decided = await decision.client.post(
        f"/v1/cases/{case['id']}/decisions",
        json=remove_body(actions=[{"code": "remove"}, {"code": "strike"}]),
        headers={**decision.auth("alice"), HEADER: token})
    assert decided.status_code == 201, decided.text

    async def closed():
        view = await routing_app.case_of_report(report.report_id)
        return view if view["status"] == "decided" else None
    view = await eventually(closed, what="routing to close the case on the decision")
    assert view["decision_id"] == decided.json()["id"]

    filed = await decision.client.post(
        "/v1/appeals", headers={"X-API-Key": APPEAL_KEY},
        json={"decision_id": decided.json()["id"], "appellant_id": "acct-42",
              "reason": "It was satire."})
    assert filed.status_code == 201, filed.text

    async def reopened():
        view = await routing_app.case_of_report(report.report_id)
        return view if view["status"] == "open" and view["queue"] == "appeals" else None
    view = await eventually(reopened, what="routing to reopen the case for the appeal")
    assert view["excluded_reviewer_id"] == "alice"

    refused = await routing_app.client.post("/v1/queues/appeals/claim",
                                            headers=routing_app.auth("alice"))
    assert refused.status_code == 204  # the original reviewer never gets the appeal
    claim = await routing_app.client.post("/v1/queues/appeals/claim",
                                          headers=routing_app.auth("dora"))
    assert claim.status_code == 200, claim.text

    async def reversed_():
        r = await decision.client.post(
            f"/v1/appeals/{filed.json()['id']}/decision",
            json={"outcome": "reverse", "facts": "Satire account, clearly labelled.",
                  "reasoning": "Satire is allowed."},
            headers={**decision.auth("dora"), HEADER: claim.json()["lease_token"]})
        # decision may not have seen the move to the appeals queue yet
        return r if r.status_code != 409 else None
    reversal = await eventually(reversed_, what="the appeal to be decided")
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reverses"] == decided.json()["id"]

    async def closed_again():
        view = await routing_app.case_of_report(report.report_id)
        return view if view["status"] == "decided" else None
    view = await eventually(closed_again, what="routing to close the appeal")
    assert view["decision_id"] == reversal.json()["id"]
    strikes = (await decision.client.get("/v1/accounts/acct-42/strikes",
                                         headers=decision.auth())).json()
    assert strikes["active"] == 0


TERMINATE = remove_body(actions=[{"code": "remove"}, {"code": "account_terminate"}])


async def claimed_and_pending(routing_app, decision) -> tuple[dict, dict]:
    """A case claimed at routing by alice, decided with a four-eyes action: pending."""
    report = make_report(category="hate_speech")
    report = report.model_copy(update={"subject": report.subject.model_copy(
        update={"owner_id": "acct-7"})})
    await routing_app.send_report(report)
    case = await routing_app.wait_case(report)
    await decision.known(case["id"])
    claim = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                          headers=routing_app.auth("alice"))
    assert claim.status_code == 200 and claim.json()["id"] == case["id"], claim.text
    decided = await decision.client.post(
        f"/v1/cases/{case['id']}/decisions", json=TERMINATE,
        headers={**decision.auth("alice"), HEADER: claim.json()["lease_token"]})
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "pending_approval"
    return case, decided.json()


async def back_in_the_queue(routing_app, case: dict, claimant: str) -> None:
    """Routing gave the case back: another reviewer claims exactly it."""
    async def returned():
        view = (await routing_app.client.get(f"/v1/cases/{case['id']}",
                                             headers=routing_app.auth())).json()
        return view if view["assignee_id"] is None and view["status"] == "open" else None
    await eventually(returned, what="routing to return the case to its queue")
    again = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                          headers=routing_app.auth(claimant))
    assert again.status_code == 200 and again.json()["id"] == case["id"], again.text


async def test_a_rejected_decision_sends_the_case_back_to_its_queue(routing_app, decision):
    case, pending = await claimed_and_pending(routing_app, decision)

    async def held():
        view = (await routing_app.client.get(f"/v1/cases/{case['id']}",
                                             headers=routing_app.auth())).json()
        history = [h["action"] for h in view["history"]]
        return view if "decision_pending_approval" in history else None
    view = await eventually(held, what="routing to hold the case for approval")
    assert view["assignee_id"] == "alice"
    meanwhile = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                              headers=routing_app.auth("carol"))
    assert meanwhile.status_code == 204  # nobody else takes a case whose decision is taken

    rejected = await decision.client.post(f"/v1/decisions/{pending['id']}/reject",
                                          json={"reason": "suspend instead"},
                                          headers=decision.auth("bob"))
    assert rejected.status_code == 200, rejected.text
    await back_in_the_queue(routing_app, case, "carol")


async def test_an_expired_pending_decision_sends_the_case_back_to_its_queue(
        routing_app, infra, decision_settings):
    from tests.integration.decision.conftest import DecisionApp
    from tests.support.apps import running
    from warden.decision.app import create_app

    settings = decision_settings.model_copy(update={"approval_ttl_s": 3.0})
    async with running(create_app(settings)) as client:
        decision_app = DecisionApp(settings=settings, client=client, kafka=infra.kafka)
        case, pending = await claimed_and_pending(routing_app, decision_app)

        async def expired():
            r = await client.get(f"/v1/decisions/{pending['id']}", headers=decision_app.auth())
            return r.json()["status"] == "expired"
        await eventually(expired, what="the pending decision to expire")
        await back_in_the_queue(routing_app, case, "carol")
        view = (await routing_app.client.get(f"/v1/cases/{case['id']}",
                                             headers=routing_app.auth())).json()
        assert "decision_expired" in [h["action"] for h in view["history"]]
