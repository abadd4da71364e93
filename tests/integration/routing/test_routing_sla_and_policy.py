"""Deadlines (cases.sla once per case and due time, metrics) and the routing policy's life
cycle: validated at start-up, reloaded without a restart, a bad file refused."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from tests.support.kafka import read_events
from warden.routing.app import create_app
from warden.routing.policy import PolicyError
from warden.routing.workers import SlaWatcher
from warden.shared.contracts import topics
from warden.shared.contracts.events import CASE_SLA_V1, Channel


async def sla_events(app, expect: int, settle: float = 0.0):
    return await read_events(app.kafka, app.settings.topic(topics.CASES_SLA), expect=expect,
                             event_type=CASE_SLA_V1, settle=settle, timeout=20)


async def test_sla_watcher_announces_at_risk_then_overdue_once_each(start_routing):
    async with start_routing(sla_at_risk_margin_s=60) as app:
        watcher = next(w for w in app.runtime.workers if isinstance(w, SlaWatcher))
        real_now = datetime.now(UTC)
        now = {"t": real_now}
        watcher.clock = lambda: now["t"]  # the watcher sees the time this test says
        due = real_now + timedelta(minutes=20)
        report = make_report(category="illegal_content_order", channel=Channel.REGULATOR,
                             deadline=due)
        await app.send_report(report)
        case = await app.wait_case(report)
        assert datetime.fromisoformat(case["due_at"]) == due

        now["t"] = due - timedelta(seconds=90)  # outside the 60 s margin: nothing yet
        await watcher.tick()
        early = await app.case_of_report(report.report_id)
        assert not [h for h in early["history"] if h["action"].startswith("sla_")]
        now["t"] = due - timedelta(seconds=30)
        [at_risk] = await sla_events(app, 1)
        now["t"] = due + timedelta(seconds=1)
        events = await sla_events(app, 2, settle=1.0)
        assert [e.data["state"] for e in events] == ["at_risk", "overdue"]
        assert events[0].id == at_risk.id
        assert {e.data["case_id"] for e in events} == {case["id"]}
        assert events[1].data["subject"]["id"] == report.subject.id
        assert datetime.fromisoformat(events[1].data["due_at"]) == due

        view = await app.case_of_report(report.report_id)
        actions = [h["action"] for h in view["history"]]
        assert actions.count("sla_at_risk") == 1 and actions.count("sla_overdue") == 1
        # Passing the due time raised the priority too (deadline tiers), announced as routed.
        routed = await app.routed(2)
        assert routed[-1].data["reason"] == "deadline_approaching"
        assert routed[-1].data["priority"] > routed[0].data["priority"]

        metrics = (await app.client.get("/metrics")).text
        assert 'warden_routing_sla_events_total{queue="regulatory_legal",state="overdue"} 1.0' \
            in metrics
        assert 'warden_routing_queue_overdue{queue="regulatory_legal"} 1.0' in metrics


def gauge(metrics_text: str, name: str, queue: str) -> float | None:
    for line in metrics_text.splitlines():
        if line.startswith(f'{name}{{queue="{queue}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_legal_deadline_at_risk_is_exported_per_queue(start_routing):
    """The alert WardenLegalDeadlineAtRisk reads this gauge: an authority order, routed from
    Kafka, counts once its legal deadline is within the margin (or passed), not before."""
    async with start_routing(sla_at_risk_margin_s=60) as app:
        watcher = next(w for w in app.runtime.workers if isinstance(w, SlaWatcher))
        real_now = datetime.now(UTC)
        now = {"t": real_now}
        watcher.clock = lambda: now["t"]
        deadline = real_now + timedelta(minutes=20)
        order = make_report(category="illegal_content_order", channel=Channel.REGULATOR,
                            deadline=deadline)
        await app.send_report(order)
        await app.send_report(make_report(category="hate_speech"))  # no legal deadline
        case = await app.wait_case(order)
        assert case["queue"] == "regulatory_legal"
        name = "warden_routing_legal_deadline_at_risk"

        async def reads(queue: str, value: float):
            async def probe():
                text = (await app.client.get("/metrics")).text
                return gauge(text, name, queue) == value or None
            await eventually(probe, what=f"{name}{{queue={queue!r}}} == {value}", timeout=10)

        await reads("regulatory_legal", 0.0)  # 20 minutes away, the margin is 60 s
        now["t"] = deadline - timedelta(seconds=30)
        await reads("regulatory_legal", 1.0)
        await reads("hate_harassment", 0.0)
        now["t"] = deadline + timedelta(minutes=5)  # passed and still undecided: still counted
        await reads("regulatory_legal", 1.0)
        now["t"] = real_now  # a live figure, not a counter: back outside the margin
        await reads("regulatory_legal", 0.0)


async def test_an_earlier_due_time_is_announced_again(start_routing):
    async with start_routing(sla_at_risk_margin_s=3600) as app:
        subject = "post-moving-deadline"
        first = make_report(subject, "hate_speech",
                            deadline=datetime.now(UTC) + timedelta(minutes=30))
        await app.seed(first)
        [at_risk] = await sla_events(app, 1)
        sooner = datetime.now(UTC) + timedelta(minutes=10)
        await app.seed(make_report(subject, "hate_speech", deadline=sooner))
        events = await sla_events(app, 2, settle=1)
        assert [e.data["state"] for e in events] == ["at_risk", "at_risk"]
        assert datetime.fromisoformat(events[1].data["due_at"]) == sooner
        assert at_risk.data["case_id"] == events[1].data["case_id"]


async def test_terrorist_content_order_without_a_deadline_is_due_within_the_hour(routing_app):
    report = make_report(category="terrorist_content_order", channel=Channel.REGULATOR)
    case = await routing_app.seed(report)
    assert case.queue == "terrorism_violent_extremism"
    assert case.due_at == report.received_at + timedelta(hours=1)
    queues = (await routing_app.client.get("/v1/queues", headers=routing_app.auth())).json()
    tve = next(q for q in queues["queues"] if q["name"] == "terrorism_violent_extremism")
    assert tve["due_within_hour"] == 1


# --- policy ---------------------------------------------------------------------------------

def lead(app):
    return app.auth("lead-1", roles=["lead"])


async def test_reload_applies_a_good_file_to_new_reports(routing_app, policy_file):
    text = policy_file.read_text()
    policy_file.write_text(
        text.replace('version: "2026.12.1"', 'version: "2026.11.2"')
            .replace("  - id: hate-harassment\n    match: {category: [hate_speech, harassment]}\n"
                     "    queue: hate_harassment",
                     "  - id: hate-harassment\n    match: {category: [hate_speech, harassment]}\n"
                     "    queue: general"))
    response = await routing_app.client.post("/v1/policy/reload", headers=lead(routing_app))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert (body["previous_version"], body["version"]) == ("2026.12.1", "2026.11.2")
    case = await routing_app.seed(make_report(category="hate_speech"))
    assert (case.queue, case.policy_version) == ("general", "2026.11.2")
    again = await routing_app.client.post("/v1/policy/reload", headers=lead(routing_app))
    assert again.json()["changed"] is False


async def test_reload_refuses_a_bad_file_naming_the_rule_and_keeps_the_old(routing_app,
                                                                           policy_file):
    good = policy_file.read_text()
    policy_file.write_text(good.replace('version: "2026.12.1"', 'version: "2026.11.9"')
                           .replace("queue: scams_fraud\n", "queue: scams\n"))
    response = await routing_app.client.post("/v1/policy/reload", headers=lead(routing_app))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [problem] = response.json()["errors"]
    assert problem["field"] == "rules[13] ('scams-fraud').queue"
    current = await routing_app.client.get("/v1/policy", headers=routing_app.auth())
    assert current.json()["version"] == "2026.12.1"
    case = await routing_app.seed(make_report(category="phishing"))
    assert case.queue == "scams_fraud"


async def test_reload_refuses_changed_rules_under_the_same_version(routing_app, policy_file):
    edited = policy_file.read_text().replace("base_priority: 90", "base_priority: 95")
    policy_file.write_text(edited)
    response = await routing_app.client.post("/v1/policy/reload", headers=lead(routing_app))
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "version_not_bumped"


async def test_reload_refuses_to_drop_a_queue_that_still_holds_cases(routing_app, policy_file):
    await routing_app.seed(make_report(category="copyright", channel=Channel.RIGHTS_HOLDER))
    text = policy_file.read_text()
    text = (text.replace('version: "2026.12.1"', 'version: "2026.11.3"')
                .replace("  intellectual_property:\n    sla: 48h\n", "")
                .replace("    queue: intellectual_property\n", "    queue: general\n"))
    policy_file.write_text(text)
    response = await routing_app.client.post("/v1/policy/reload", headers=lead(routing_app))
    assert response.status_code == 409, response.text
    assert "intellectual_property (1 open)" in response.json()["detail"]


async def test_only_leads_reload_the_policy(routing_app):
    response = await routing_app.client.post("/v1/policy/reload", headers=routing_app.auth())
    assert response.status_code == 403


async def test_sighup_reloads_the_policy(start_routing, policy_file):
    async with start_routing(reload_on_sighup=True) as app:
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None)
        policy_file.write_text(policy_file.read_text()
                               .replace('version: "2026.12.1"', 'version: "2026.12.0"'))
        os.kill(os.getpid(), signal.SIGHUP)

        async def reloaded():
            return app.ctx.policy.version == "2026.12.0"
        await eventually(reloaded, what="SIGHUP to reload the policy", timeout=5)
    # Stopping the service gives the signal back (a later SIGHUP must not reach a dead app).
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


async def test_a_bad_policy_stops_start_up_with_the_rule_named(routing_db, routing_settings,
                                                               policy_file):
    policy_file.write_text(policy_file.read_text().replace("base_priority: 85",
                                                           "base_priority: urgent"))
    app = create_app(await routing_settings(routing_db))
    with pytest.raises(PolicyError) as err:
        async with app.router.lifespan_context(app):
            pass
    assert "rules[3] ('imminent-harm').base_priority" in err.value.detail
