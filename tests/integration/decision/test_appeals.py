"""Appeals (DSA Art. 20): eligibility at once, appeals.filed, a different reviewer decides,
and a reversal tells enforcement what to undo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.integration.decision.conftest import APPEAL_KEY, remove_body
from tests.support.apps import eventually
from tests.support.kafka import produce_events
from warden.decision.domain.appeals import APPEAL_WINDOW_MONTHS, add_months
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    DECISION_RECORDED_V2,
    NOTIFICATION_DELIVERED_V1,
    REPORT_NORMALIZED_V1,
    AppealFiledV1,
    DecisionRecordedV2,
    NotificationDeliveredV1,
)
from warden.shared.db import create_engine

API = {"X-API-Key": APPEAL_KEY}


async def decided(decision, body=None, *, owner="acct-7"):
    case = await decision.routed_case(owner=owner)
    r = await decision.client.post(f"/v1/cases/{case.case_id}/decisions",
                                   json=body or remove_body(), headers=decision.as_holder(case))
    assert r.status_code == 201, r.text
    return case, r.json()


async def made_seven_months_ago(decision, decision_id: str) -> None:
    """Backdated in place: past the six months of the appeal window."""
    engine = create_engine(decision.settings.database_url, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE decisions SET final_at = now() - interval '7 months'"
                                   " WHERE id = :id"), {"id": decision_id})
    await engine.dispose()


def appeal_body(decision_id, appellant="acct-7", kind="affected_user"):
    return {"decision_id": str(decision_id), "appellant_id": appellant, "appellant_kind": kind,
            "reason": "The post quoted the slur to criticise it."}


async def test_eligibility_is_answered_at_once(decision):
    _, first = await decided(decision)
    post = decision.client.post
    assert (await post("/v1/appeals", json=appeal_body(uuid.uuid4()), headers=API)
            ).status_code == 404
    assert (await post("/v1/appeals", json=appeal_body(first["id"], "someone-else"),
                       headers=API)).status_code == 403
    assert (await post("/v1/appeals", json=appeal_body(first["id"], "user-9", "reporter"),
                       headers=API)).status_code == 403  # reporters appeal no-action only
    assert (await post("/v1/appeals", json=appeal_body(first["id"]))).status_code == 401
    filed = await post("/v1/appeals", json=appeal_body(first["id"]), headers=API)
    assert filed.status_code == 201, filed.text
    again = await post("/v1/appeals", json=appeal_body(first["id"]), headers=API)
    assert (again.status_code, again.json()["id"]) == (200, filed.json()["id"])
    assert filed.json()["deadline"] > (datetime.now(UTC) + timedelta(days=180)).isoformat()

    [event] = await decision.events(APPEAL_FILED_V1, expect=1, settle=1)
    appeal = AppealFiledV1.model_validate(event.data)
    assert (appeal.decision_id, appeal.original_reviewer_id) == (uuid.UUID(first["id"]),
                                                                 "alice")
    assert appeal.excluded_reviewer_ids == ["alice"]

    # Past the six months: 409 with the deadline.
    _, old = await decided(decision)
    await made_seven_months_ago(decision, old["id"])
    late = await post("/v1/appeals", json=appeal_body(old["id"]), headers=API)
    assert late.status_code == 409
    assert "appeal window closed" in late.json()["detail"]


async def test_no_action_can_be_appealed_by_the_reporter(decision):
    _, nothing = await decided(decision, remove_body(actions=[{"code": "no_action"}]))
    assert nothing["statement_of_reasons"] is None
    filed = await decision.client.post(
        "/v1/appeals", json=appeal_body(nothing["id"], "user-9", "reporter"), headers=API)
    assert filed.status_code == 201, filed.text


async def test_reversal_by_a_reviewer_who_took_no_part(decision):
    owner = f"acct-{uuid.uuid4().hex[:6]}"
    case, first = await decided(
        decision, remove_body(actions=[{"code": "remove"}, {"code": "strike"}]), owner=owner)
    filed = await decision.client.post("/v1/appeals", json=appeal_body(first["id"], owner),
                                       headers=API)
    appeal_id = filed.json()["id"]
    appeal_case = case.model_copy(update={"queue": "appeals", "stage": "appeal"})
    await decision.route(appeal_case.model_copy(update={
        "routed_at": datetime.now(UTC), "reason": "reopened_for_appeal",
        "appeal_id": uuid.UUID(appeal_id)}))
    url = f"/v1/appeals/{appeal_id}/decision"
    body = {"outcome": "reverse", "facts": "The post condemns the slur it quotes.",
            "reasoning": "Counter-speech is allowed under the hate speech policy."}

    async def moved():
        r = await decision.client.post(url, json=body,
                                       headers=decision.as_holder(appeal_case, "alice"))
        return r if r.json().get("errors", [{}])[0].get("type") != "transferred" else None
    original_reviewer = await eventually(moved, what="the appeal case in the appeals queue")
    assert original_reviewer.status_code == 403, original_reviewer.text

    reversed_ = await decision.client.post(url, json=body,
                                           headers=decision.as_holder(appeal_case, "dora"))
    assert reversed_.status_code == 201, reversed_.text
    assert (reversed_.json()["appeal_outcome"], reversed_.json()["reverses"]) == \
        ("reversed", first["id"])
    events = await decision.events(DECISION_RECORDED_V2, expect=2)
    reversal = DecisionRecordedV2.model_validate(events[-1].data)
    assert reversal.reverses == uuid.UUID(first["id"])
    assert reversal.stage == "appeal" and reversal.appeal_outcome == "reversed"
    assert [(a.code, a.restores) for a in reversal.actions] == [("restore_content", "remove")]
    assert reversal.restricts is False and reversal.statement_of_reasons is None

    original = (await decision.client.get(f"/v1/decisions/{first['id']}",
                                          headers=decision.auth())).json()
    assert (original["status"], original["reversed_by"]) == ("reversed", reversed_.json()["id"])
    strikes = (await decision.client.get(f"/v1/accounts/{owner}/strikes",
                                         headers=decision.auth())).json()
    assert strikes["active"] == 0 and strikes["strikes"][0]["removed_at"]
    appeal = (await decision.client.get(f"/v1/appeals/{appeal_id}",
                                        headers=decision.auth())).json()
    assert (appeal["status"], appeal["outcome_decision_id"]) == ("reversed",
                                                                 reversed_.json()["id"])
    second = await decision.client.post("/v1/appeals", json=appeal_body(first["id"], owner),
                                        headers=API)
    assert second.json()["id"] == appeal_id  # the same appellant: the first appeal


def told(decision_id: str, *, at: datetime, source: str = DECISION_RECORDED_V2,
         status: str = "delivered") -> CloudEvent:
    return new_event(type=NOTIFICATION_DELIVERED_V1, source="/warden/notify", subject="s",
                     payload=NotificationDeliveredV1(
                         notification_id=uuid.uuid4(), source_event_id="e",
                         source_event_type=source, recipient="acct-7",
                         endpoint_url="http://127.0.0.1:9/hook", status=status, attempts=1,
                         finished_at=at, decision_id=uuid.UUID(decision_id),
                         audience="affected"))


async def test_the_appeal_window_runs_from_the_first_delivered_notice(decision):
    """A decision made seven months ago whose affected party was told only a month ago may
    still be appealed: the window runs from the earliest delivered notice of the decision
    (a run of notifications.delivered at once: a later one, a dead one and a receipt do not
    move it)."""
    _, old = await decided(decision)
    await made_seven_months_ago(decision, old["id"])
    now = datetime.now(UTC)
    first_told = now - timedelta(days=30)
    events = [told(old["id"], at=now - timedelta(days=2)),
              told(old["id"], at=now - timedelta(days=200), status="dead"),
              told(old["id"], at=now - timedelta(days=200), source=REPORT_NORMALIZED_V1),
              told(old["id"], at=first_told),
              told(old["id"], at=now - timedelta(days=1))]
    await produce_events(decision.kafka, decision.settings.topic(topics.NOTIFICATIONS_DELIVERED),
                         events, key="s")

    async def accepted():
        r = await decision.client.post("/v1/appeals", json=appeal_body(old["id"]), headers=API)
        return r if r.status_code == 201 else None

    filed = await eventually(accepted, what="the appeal within the window from the notice")
    deadline = datetime.fromisoformat(filed.json()["deadline"].replace("Z", "+00:00"))
    assert deadline == add_months(first_told, APPEAL_WINDOW_MONTHS)
