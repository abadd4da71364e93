"""Four-eyes from routing's side: a case whose decision awaits approval stays with its
reviewer; a rejected (or expired) decision sends it back to the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    DECISION_APPROVAL_CLOSED_V1,
    DECISION_PENDING_APPROVAL_V1,
    DecisionApprovalClosedV1,
    DecisionPendingApprovalV1,
    Subject,
)


async def test_pending_decision_holds_the_case_and_rejection_returns_it(routing_app):
    import uuid

    case = await routing_app.seed(make_report(category="spam"))
    claimed = await routing_app.client.post("/v1/queues/general/claim",
                                            json={"lease_seconds": 60},
                                            headers=routing_app.auth("ida"))
    assert claimed.status_code == 200
    assert claimed.json()["id"] == str(case.id), (claimed.json()["id"], case.id)
    subject = Subject.model_validate(case.subject)
    decision_id = uuid.uuid4()
    until = datetime.now(UTC) + timedelta(hours=6)
    pending = DecisionPendingApprovalV1(decision_id=decision_id, case_id=case.id,
                                        subject=subject, decided_by="ida", queue="general",
                                        action_codes=["account_terminate"],
                                        decided_at=datetime.now(UTC), expires_at=until)
    await routing_app.publish(topics.DECISIONS_RECORDED, new_event(
        type=DECISION_PENDING_APPROVAL_V1, source="/warden/decision", subject=subject.id,
        payload=pending), subject.id)

    async def held():
        view = (await routing_app.client.get(f"/v1/cases/{case.id}",
                                             headers=routing_app.auth())).json()
        # (the case and its history are read one after the other: wait for the case)
        lease = view["lease_expires_at"]
        return view if lease and datetime.fromisoformat(lease) >= until - timedelta(
            seconds=1) else None
    view = await eventually(held, what="routing to hold the case for approval")
    assert view["assignee_id"] == "ida", view
    assert "decision_pending_approval" in [h["action"] for h in view["history"]]

    closed = DecisionApprovalClosedV1(decision_id=decision_id, case_id=case.id,
                                      subject=subject, outcome="rejected", decided_by="ida",
                                      closed_by="bob", reason="too severe",
                                      closed_at=datetime.now(UTC))
    await routing_app.publish(topics.DECISIONS_RECORDED, new_event(
        type=DECISION_APPROVAL_CLOSED_V1, source="/warden/decision", subject=subject.id,
        payload=closed), subject.id)

    async def returned():
        view = (await routing_app.client.get(f"/v1/cases/{case.id}",
                                             headers=routing_app.auth())).json()
        return view if view["assignee_id"] is None else None
    view = await eventually(returned, what="routing to return the case to its queue")
    assert view["status"] == "open"
    again = await routing_app.client.post("/v1/queues/general/claim",
                                          headers=routing_app.auth("jack"))
    assert again.json()["id"] == str(case.id)
