"""Reports become cases: grouping (also under concurrency), closing, appeals, follow-up cases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from tests.support.kafka import read_records
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    DECISION_RECORDED_V1,
    REPORT_NORMALIZED_V1,
    AppealFiledV1,
    Channel,
    DecisionRecordedV1,
    Subject,
)


async def test_report_becomes_a_case_in_its_specialist_queue(routing_app):
    report = make_report(category="hate_speech")
    await routing_app.send_report(report)
    case = await routing_app.wait_case(report)
    assert case["queue"] == "hate_harassment"
    assert case["rule_id"] == "hate-harassment"
    assert case["policy_version"] == routing_app.ctx.policy.version
    assert case["status"] == "open" and case["report_count"] == 1
    assert [r["report_id"] for r in case["reports"]] == [str(report.report_id)]
    assert [h["action"] for h in case["history"]] == ["opened"]

    [event] = await routing_app.routed(1)
    assert event.data["case_id"] == case["id"] and event.data["reason"] == "opened"
    assert event.data["report_ids"] == [str(report.report_id)]
    assert event.data["queue"] == "hate_harassment"
    assert event.subject == case["id"]


async def test_further_reports_join_the_open_case_and_raise_its_priority(routing_app):
    subject = f"post-{uuid.uuid4().hex[:8]}"
    first = make_report(subject, "hate_speech")
    flagger = make_report(subject, "harassment", Channel.TRUSTED_FLAGGER)
    order = make_report(subject, "hate_speech", Channel.USER,
                        deadline=datetime.now(UTC) + timedelta(hours=3))
    for report in (first, flagger, order):
        await routing_app.send_report(report)
    events = await routing_app.routed(3)
    case = await routing_app.case_of_report(order.report_id)
    assert {e.data["case_id"] for e in events} == {case["id"]}
    assert [e.data["reason"] for e in events] == ["opened", "report_joined", "report_joined"]
    assert case["report_count"] == 3 and case["reporter_count"] == 3
    assert set(case["channels"]) == {"user", "trusted_flagger"}
    priorities = [e.data["priority"] for e in events]
    assert priorities[0] < priorities[1] <= priorities[2]
    # The earliest deadline carried by any report becomes the case's due time.
    assert datetime.fromisoformat(case["due_at"]) == order.legal.deadline
    assert events[2].data["report_ids"] == [str(r.report_id) for r in (first, flagger, order)]


async def test_many_reports_on_one_subject_at_once_make_one_case(routing_app):
    """Forty transactions race to route reports on one subject: one case, forty reports."""
    subject = f"viral-{uuid.uuid4().hex[:8]}"
    reports = [make_report(subject, "hate_speech") for _ in range(40)]
    await asyncio.gather(*(routing_app.seed(r) for r in reports))
    cases = await routing_app.scalar(
        "SELECT count(*) FROM cases WHERE subject_id = :s", s=subject)
    count = await routing_app.scalar(
        "SELECT report_count FROM cases WHERE subject_id = :s", s=subject)
    linked = await routing_app.scalar(
        "SELECT count(DISTINCT case_id) FROM case_reports WHERE report_id = ANY(:ids)",
        ids=[r.report_id for r in reports])
    assert (cases, count, linked) == (1, 40, 1)
    events = await routing_app.routed(40, settle=1)
    assert sorted(e.data["reason"] for e in events).count("opened") == 1
    assert max(e.data["report_count"] for e in events) == 40


async def test_several_consumers_racing_on_one_subject_make_one_case(start_routing):
    """Reports on one subject, keyed over every partition, consumed by two service instances."""
    async with start_routing() as one, start_routing() as two:
        async def both_assigned():
            return all(c.assigned for app in (one, two) for c in app.runtime.consumers
                       if c.name == "reports")
        await eventually(both_assigned, what="both instances to own partitions", timeout=30)
        subject = f"viral-{uuid.uuid4().hex[:8]}"
        reports = [make_report(subject, "hate_speech") for _ in range(30)]
        await asyncio.gather(*(
            one.publish(topics.REPORTS_NORMALIZED,
                        new_event(type=REPORT_NORMALIZED_V1, source="/t",
                                  subject=subject, payload=r),
                        key=f"{subject}-{i}")  # a producer that keys badly spreads the subject
            for i, r in enumerate(reports)))

        async def all_routed():
            return await one.scalar("SELECT count(*) FROM case_reports cr JOIN cases c "
                                    "ON c.id = cr.case_id WHERE c.subject_id = :s",
                                    s=subject) == 30
        await eventually(all_routed, what="all 30 reports routed", timeout=30)
        assert await one.scalar("SELECT count(*) FROM cases WHERE subject_id = :s", s=subject) == 1
        assert await one.scalar("SELECT report_count FROM cases WHERE subject_id = :s",
                                s=subject) == 30


async def test_redelivered_report_changes_nothing(routing_app):
    report = make_report()
    event = await routing_app.send_report(report)
    await routing_app.wait_case(report)
    await routing_app.publish(topics.REPORTS_NORMALIZED, event, report.subject.id)  # same event
    await routing_app.send_report(report)  # the same report under a new event id
    await processed(routing_app, "reports", 2)
    case = await routing_app.case_of_report(report.report_id)
    assert case["report_count"] == 1
    assert len(await routing_app.routed(1, settle=1)) == 1


async def processed(app, consumer: str, events: int) -> None:
    """Wait until the consumer has handled ``events`` distinct events (its inbox)."""
    async def count():
        return await app.scalar("SELECT count(*) FROM inbox WHERE consumer = :c",
                                c=f"routing.{consumer}") >= events
    await eventually(count, what=f"{events} events handled by {consumer}")


def decision_for(case: dict, reviewer: str = "alice") -> DecisionRecordedV1:
    return DecisionRecordedV1(
        decision_id=uuid.uuid4(), case_id=uuid.UUID(case["id"]),
        subject=Subject.model_validate(case["subject"]), action="remove",
        policy_area=case["policy_area"], category=case["category"], dsa_category="X",
        policy_cited="CS-1", rationale="r", reviewer_id=reviewer, decided_at=datetime.now(UTC))


async def publish_decision(app, decision: DecisionRecordedV1) -> None:
    await app.publish(topics.DECISIONS_RECORDED,
                      new_event(type=DECISION_RECORDED_V1, source="/warden/decision",
                                subject=decision.subject.id, payload=decision),
                      decision.subject.id)


async def publish_appeal(app, decision: DecisionRecordedV1) -> AppealFiledV1:
    appeal = AppealFiledV1(appeal_id=uuid.uuid4(), decision_id=decision.decision_id,
                           case_id=decision.case_id, subject=decision.subject,
                           appellant_id="owner-1", reason="it was satire",
                           filed_at=datetime.now(UTC), original_reviewer_id=decision.reviewer_id)
    await app.publish(topics.APPEALS_FILED,
                      new_event(type=APPEAL_FILED_V1, source="/warden/decision",
                                subject=appeal.subject.id, payload=appeal), appeal.subject.id)
    return appeal


async def wait_status(app, report, status: str, queue: str | None = None) -> dict:
    async def probe():
        case = await app.case_of_report(report.report_id)
        ok = case["status"] == status and (queue is None or case["queue"] == queue)
        return case if ok else None
    return await eventually(probe, what=f"case {status} in {queue or 'its queue'}")


async def test_decision_closes_the_case_and_a_new_report_opens_a_linked_one(routing_app):
    first = make_report()
    await routing_app.send_report(first)
    case = await routing_app.wait_case(first)
    await publish_decision(routing_app, decision_for(case))
    closed = await wait_status(routing_app, first, "decided")
    assert closed["closed_at"] and closed["history"][-1]["action"] == "decided"

    later = make_report(first.subject.id)
    await routing_app.send_report(later)
    follow_up = await routing_app.wait_case(later)
    assert follow_up["id"] != case["id"]
    assert follow_up["previous_case_id"] == case["id"]
    assert follow_up["status"] == "open" and follow_up["report_count"] == 1
    events = await routing_app.routed(3)
    assert [e.data["reason"] for e in events] == ["opened", "decided", "opened"]
    assert events[1].data["status"] == "decided"
    assert events[2].data["previous_case_id"] == case["id"]


async def test_reports_that_joined_after_the_decision_was_taken_open_a_follow_up(routing_app):
    """Kafka lag: a report joined the case after the reviewer decided, before routing heard."""
    seen = make_report()
    await routing_app.seed(seen)
    case = await routing_app.case_of_report(seen.report_id)
    decision = decision_for(case)  # decided now, covering ``seen`` only
    unseen = make_report(seen.subject.id)
    await routing_app.seed(unseen)
    await publish_decision(routing_app, decision)
    closed = await wait_status(routing_app, seen, "decided")
    follow_up = await routing_app.case_of_report(unseen.report_id)
    assert follow_up["id"] != closed["id"] and follow_up["status"] == "open"
    assert follow_up["previous_case_id"] == closed["id"]
    assert (closed["report_count"], follow_up["report_count"]) == (1, 1)
    assert [r["report_id"] for r in closed["reports"]] == [str(seen.report_id)]
    events = await routing_app.routed(4)
    assert [e.data["reason"] for e in events] == ["opened", "report_joined", "opened", "decided"]
    assert events[2].data["report_ids"] == [str(unseen.report_id)]
    assert events[3].data["report_ids"] == [str(seen.report_id)]


async def test_appeal_reopens_the_case_in_appeals_for_another_reviewer(routing_app):
    report = make_report()
    await routing_app.send_report(report)
    case = await routing_app.wait_case(report)
    decision = decision_for(case, reviewer="alice")
    await publish_decision(routing_app, decision)
    await wait_status(routing_app, report, "decided")
    appeal = await publish_appeal(routing_app, decision)
    reopened = await wait_status(routing_app, report, "open", queue="appeals")
    assert reopened["stage"] == "appeal" and reopened["excluded_reviewer_id"] == "alice"
    assert reopened["appeal_id"] == str(appeal.appeal_id)

    [event] = [e for e in await routing_app.routed(3) if e.data["reason"] == "reopened_for_appeal"]
    assert event.data["excluded_reviewer_id"] == "alice" and event.data["queue"] == "appeals"

    # The reviewer who decided never gets the appeal; someone else does.
    denied = await routing_app.client.post("/v1/queues/appeals/claim",
                                           headers=routing_app.auth("alice"))
    assert denied.status_code == 204
    granted = await routing_app.client.post("/v1/queues/appeals/claim",
                                            headers=routing_app.auth("bob"))
    assert granted.status_code == 200 and granted.json()["id"] == case["id"]

    # The appeal's own decision closes the case again.
    await publish_decision(routing_app, decision_for(reopened, reviewer="bob"))
    await wait_status(routing_app, report, "decided", queue="appeals")


async def test_appeal_arriving_before_its_decision_still_reopens_once(routing_app):
    report = make_report()
    case = await routing_app.seed(report)
    view = await routing_app.case_of_report(report.report_id)
    decision = decision_for(view, reviewer="carol")
    await publish_appeal(routing_app, decision)  # decisions.recorded lags behind
    await wait_status(routing_app, report, "open", queue="appeals")
    await publish_decision(routing_app, decision)  # arrives late: already known, no effect
    await processed(routing_app, "outcomes", 2)
    final = await routing_app.case_of_report(report.report_id)
    assert final["queue"] == "appeals" and final["status"] == "open"
    assert final["excluded_reviewer_id"] == "carol" and str(case.id) == final["id"]
    assert [h["action"] for h in final["history"]] == ["opened", "decided", "reopened_for_appeal"]


async def test_decision_on_an_unknown_case_goes_to_the_dlq(routing_app):
    ghost = {"id": str(uuid.uuid4()), "subject": {"type": "content", "id": "ghost"},
             "policy_area": "community_standards", "category": "spam"}
    await publish_decision(routing_app, decision_for(ghost))
    [dead] = await read_records(routing_app.kafka,
                                topics.dlq(routing_app.settings.topic(topics.DECISIONS_RECORDED)),
                                expect=1, timeout=20)
    assert b"which routing does not know" in dict(dead.headers)["dlq.reason"]


async def test_a_more_severe_report_escalates_the_case_to_trained_reviewers(routing_app):
    subject = f"post-{uuid.uuid4().hex[:8]}"
    await routing_app.seed(make_report(subject, "hate_speech"))
    claim = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                          headers=routing_app.auth("dave"))
    assert claim.status_code == 200
    worse = make_report(subject, "terrorism")
    await routing_app.seed(worse)
    case = await routing_app.case_of_report(worse.report_id)
    assert case["queue"] == "terrorism_violent_extremism" and case["category"] == "terrorism"
    assert case["assignee_id"] is None  # dave may not have the training: the lease is dropped
    events = await routing_app.routed(2)
    assert events[1].data["reason"] == "escalated"
