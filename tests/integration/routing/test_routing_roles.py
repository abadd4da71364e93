"""Roles in reviewer tokens: an admin may do what a lead may, and what a reviewer may."""

from __future__ import annotations

from tests.integration.routing.conftest import make_report


async def test_a_token_with_only_the_admin_role_works_cases_and_leads(routing_app):
    admin = routing_app.auth("ada", roles=["admin"])
    assert (await routing_app.client.get("/v1/queues", headers=admin)).status_code == 200
    case = await routing_app.seed(make_report(category="spam"))
    moved = await routing_app.client.post(f"/v1/cases/{case.id}/transfer", headers=admin,
                                          json={"queue": "scams_fraud", "reason": "misrouted"})
    assert moved.status_code == 200 and moved.json()["queue"] == "scams_fraud"
    claimed = await routing_app.client.post("/v1/queues/scams_fraud/claim", headers=admin)
    assert claimed.status_code == 200 and claimed.json()["assignee_id"] == "ada"
    assert (await routing_app.client.post("/v1/policy/reload", headers=admin)).status_code == 200


async def test_a_token_without_a_reviewer_role_is_refused(routing_app):
    operator = routing_app.auth("oz", roles=["operator"])
    refused = await routing_app.client.get("/v1/queues", headers=operator)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
