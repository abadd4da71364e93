"""The whole path with the four services as real processes on real Kafka and PostgreSQL.

report (intake) -> case in a specialist queue (routing) -> claimed by a reviewer ->
decision needing four-eyes approval (decision) -> approved by a second reviewer ->
signed webhook (notify) -> statement of reasons served -> appeal by the affected user ->
reopened in the appeals queue (routing) -> reversed by a third reviewer -> webhook again.
"""

from __future__ import annotations

import json
import signal
import uuid

import httpx
import pytest

from tests.e2e.harness import (
    DEV_API_KEY,
    DEV_APPEALS_KEY,
    REVIEWER_SECRET,
    SERVICES,
    WEBHOOK_SECRET,
    Receiver,
    running_services,
    standard_webhooks_signature_valid,
)
from tests.support.apps import eventually
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts.transparency import validate_statement
from warden.shared.lease_tokens import HEADER as LEASE_TOKEN

pytestmark = pytest.mark.e2e


@pytest.fixture
async def system(infra, topic_prefix, make_database, tmp_path):
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_services(infra, topic_prefix, make_database, tmp_path,
                                    receiver) as processes:
            async with httpx.AsyncClient(timeout=10) as client:
                yield processes, receiver, client
    finally:
        await receiver.stop()
    # A clean SIGTERM: every service ran its whole shutdown (uvicorn then re-raises the signal).
    unclean = {name: process.log_tail() for name, process in processes.items()
               if process.exit_code not in (0, -signal.SIGTERM)
               or '"service_stopped"' not in process.log.read_text()}
    assert not unclean, unclean


def reviewer_headers(reviewer: str = "alice") -> dict[str, str]:
    token = issue_reviewer_token(REVIEWER_SECRET, reviewer, ["hate_harassment", "appeals"],
                                 ["reviewer"])
    return {"Authorization": f"Bearer {token}"}


def user_report(content_id: str) -> dict:
    return {
        "channel": "user",
        "reporter": {"account_id": "user-4821"},
        "content": {"type": "content", "id": content_id,
                    "url": f"https://social.example/p/{content_id}", "owner_id": "acct-1173"},
        "reason": "hate_speech",
        "text": "This post attacks people for their religion.",
    }


async def test_report_to_signed_webhook(system):
    processes, receiver, client = system
    intake, routing, decision, notify = (processes[n].url for n in SERVICES)
    content_id = f"post-{uuid.uuid4().hex[:8]}"

    submitted = await client.post(f"{intake}/v1/reports", json=user_report(content_id),
                                  headers={"X-API-Key": DEV_API_KEY})
    assert submitted.status_code == 201, submitted.text
    report_id = submitted.json()["id"]

    async def queued_case():
        queues = (await client.get(f"{routing}/v1/queues", headers=reviewer_headers())).json()
        return next((q for q in queues["queues"]
                     if q["name"] == "hate_harassment" and q["depth"] > 0), None)
    await eventually(queued_case, what="the report to become a case in hate_harassment")

    claimed = await client.post(f"{routing}/v1/queues/hate_harassment/claim",
                                headers=reviewer_headers())
    assert claimed.status_code == 200, claimed.text
    case = claimed.json()
    case_id = case["id"]
    assert content_id in json.dumps(case)

    async def decide():
        response = await client.post(
            f"{decision}/v1/cases/{case_id}/decisions",
            headers={**reviewer_headers(), LEASE_TOKEN: case["lease_token"]},
            json={"actions": [{"code": "remove"}, {"code": "account_terminate"}],
                  "policy_id": "CS-HATE-1",
                  "facts": "A post calling a religious group vermin, reported by a user.",
                  "reasoning": "Dehumanising comparison aimed at a protected group."})
        return response if response.status_code != 404 else None
    decided = await eventually(decide, what="decision to know the routed case")
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == "pending_approval"  # account termination: four-eyes
    decision_id = decided.json()["id"]
    # Nothing final, nothing told (the reporter's receipt went out when the report came in).
    assert not [b for _, b in receiver.received if decision_id.encode() in b]

    approved = await client.post(f"{decision}/v1/decisions/{decision_id}/approve",
                                 json={"reason": "checked the post and the account"},
                                 headers=reviewer_headers("bob"))
    assert approved.status_code == 200, approved.text

    # Notify also sends the reporter a receipt and an outcome, the owner a statement of
    # reasons: the decision's own webhook (for downstream tools) is the one naming it.
    async def decision_webhook():
        return next(((h, b) for h, b in receiver.received
                     if b'"notice"' not in b and decision_id.encode() in b), None)
    headers, body = await eventually(decision_webhook, what="the decision's webhook to arrive")
    assert all(standard_webhooks_signature_valid(WEBHOOK_SECRET, h, b)
               for h, b in receiver.received)
    assert content_id in body.decode()

    statement = await client.get(f"{decision}/v1/decisions/{decision_id}/statement-of-reasons",
                                 headers=reviewer_headers("bob"))
    assert statement.status_code == 200
    assert validate_statement(statement.json()) == {}
    assert statement.json()["decision_account"] == "DECISION_ACCOUNT_TERMINATED"

    async def notified():
        status = (await client.get(f"{intake}/v1/reports/{report_id}",
                                   headers={"X-API-Key": DEV_API_KEY})).json()
        return status if status["status"] == "notified" else None
    status = await eventually(notified, what="intake to see the report notified")
    assert status["routing"]["case_id"] == case_id
    assert status["decision"]["action"] == "remove"

    appeal = await client.post(f"{decision}/v1/appeals", headers={"X-API-Key": DEV_APPEALS_KEY},
                               json={"decision_id": decision_id, "appellant_id": "acct-1173",
                                     "reason": "I was quoting the slur to condemn it."})
    assert appeal.status_code == 201, appeal.text

    async def appeal_claimed():
        r = await client.post(f"{routing}/v1/queues/appeals/claim",
                              headers=reviewer_headers("dora"))
        return r if r.status_code == 200 else None
    appeal_case = (await eventually(appeal_claimed, what="the appeal in the appeals queue")
                   ).json()
    assert appeal_case["id"] == case_id and appeal_case["excluded_reviewer_id"] == "alice"

    async def reverse():
        r = await client.post(
            f"{decision}/v1/appeals/{appeal.json()['id']}/decision",
            headers={**reviewer_headers("dora"), LEASE_TOKEN: appeal_case["lease_token"]},
            json={"outcome": "reverse", "facts": "The post condemns the slur it quotes.",
                  "reasoning": "Counter-speech is allowed."})
        return r if r.status_code != 409 else None  # until decision sees the appeals queue
    reversal = await eventually(reverse, what="the appeal to be decided")
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reverses"] == decision_id

    async def reversal_webhook():
        return next((json.loads(b) for _, b in receiver.received
                     if b'"notice"' not in b and reversal.json()["id"].encode() in b), None)
    document = await eventually(reversal_webhook, what="the reversal's webhook")
    data = document["event"]["data"]
    assert data["reverses"] == decision_id
    assert {(a["code"], a["restores"]) for a in data["actions"]} == {
        ("restore_content", "remove"), ("reinstate_account", "account_terminate")}

    async def closed_again():
        view = (await client.get(f"{routing}/v1/cases/{case_id}",
                                 headers=reviewer_headers("dora"))).json()
        return view if view["status"] == "decided" else None
    view = await eventually(closed_again, what="routing to close the appeal")
    assert view["decision_id"] == reversal.json()["id"]


async def test_resend_with_one_idempotency_key_gives_one_report_and_one_case(system):
    processes, _, client = system
    intake, routing = processes["intake"].url, processes["routing"].url
    content_id = f"post-{uuid.uuid4().hex[:8]}"
    headers = {"X-API-Key": DEV_API_KEY, "Idempotency-Key": f"resend-{content_id}"}

    first = await client.post(f"{intake}/v1/reports", json=user_report(content_id), headers=headers)
    second = await client.post(f"{intake}/v1/reports", json=user_report(content_id), headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]

    async def routed():
        status = (await client.get(f"{intake}/v1/reports/{first.json()['id']}",
                                   headers={"X-API-Key": DEV_API_KEY})).json()
        return status.get("routing")
    routing_state = await eventually(routed, what="the report to be routed")
    case = (await client.get(f"{routing}/v1/cases/{routing_state['case_id']}",
                             headers=reviewer_headers())).json()
    assert case["report_count"] == 1
    assert len(case["reports"]) == 1
    queues = (await client.get(f"{routing}/v1/queues", headers=reviewer_headers())).json()
    assert sum(q["depth"] for q in queues["queues"]) == 1
