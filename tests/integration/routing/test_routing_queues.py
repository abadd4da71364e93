"""Reviewers and queues: overview, listing, claims under contention, leases, transfers, skills."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.routing.conftest import make_report
from tests.support.apps import eventually
from warden.shared import lease_tokens
from warden.shared.contracts.events import Channel


async def test_queue_overview_counts_depth_age_and_deadlines(routing_app):
    now = datetime.now(UTC)
    await routing_app.seed(make_report(category="hate_speech"))
    await routing_app.seed(make_report(category="harassment", deadline=now + timedelta(minutes=20)))
    await routing_app.seed(make_report(category="hate_speech", deadline=now - timedelta(minutes=5)))
    response = await routing_app.client.get("/v1/queues", headers=routing_app.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    queues = {q["name"]: q for q in body["queues"]}
    assert len(queues) == 12 and body["policy_version"] == routing_app.ctx.policy.version
    hate = queues["hate_harassment"]
    figures = (hate["depth"], hate["waiting"], hate["due_within_hour"], hate["overdue"])
    assert figures == (3, 3, 1, 1)
    assert hate["oldest_case_age_seconds"] >= 0
    assert queues["general"]["depth"] == 0 and queues["general"]["oldest_case_age_seconds"] is None
    assert queues["child_safety"]["required_skills"] == ["child_safety"]
    assert queues["child_safety"]["you_can_claim"] is False
    assert queues["hate_harassment"]["you_can_claim"] is True


async def test_claim_gives_the_highest_priority_then_the_earliest_due(routing_app):
    now = datetime.now(UTC)
    low = await routing_app.seed(make_report(category="hate_speech"))
    # Same priority as ``low`` but due earlier (it was received earlier).
    earlier = await routing_app.seed(make_report(category="hate_speech",
                                                 received_at=now - timedelta(hours=2)))
    flagged = await routing_app.seed(make_report(category="harassment",
                                                 channel=Channel.TRUSTED_FLAGGER))
    assert flagged.priority > low.priority == earlier.priority
    order = []
    for _ in range(3):
        response = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                                 headers=routing_app.auth("erin"))
        assert response.status_code == 200, response.text
        order.append(response.json()["id"])
    assert order == [str(flagged.id), str(earlier.id), str(low.id)]
    claimed = await routing_app.client.get(f"/v1/cases/{low.id}", headers=routing_app.auth())
    assert claimed.json()["assignee_id"] == "erin"
    assert claimed.json()["history"][-1]["action"] == "claimed"
    empty = await routing_app.client.post("/v1/queues/hate_harassment/claim",
                                          headers=routing_app.auth("erin"))
    assert empty.status_code == 204 and empty.content == b""


async def test_many_concurrent_claimers_never_share_a_case_and_lose_none(routing_app):
    cases = [await routing_app.seed(make_report(category="spam")) for _ in range(30)]

    async def claim(i: int):
        return await routing_app.client.post("/v1/queues/general/claim",
                                              headers=routing_app.auth(f"reviewer-{i}"))

    responses = await asyncio.gather(*(claim(i) for i in range(60)))
    granted = [r.json() for r in responses if r.status_code == 200]
    assert sorted(r.status_code for r in responses) == [200] * 30 + [204] * 30
    assert sorted(c["id"] for c in granted) == sorted(str(c.id) for c in cases)
    assert len({c["assignee_id"] for c in granted}) == 30
    leased = await routing_app.scalar(
        "SELECT count(DISTINCT assignee_id) FROM cases WHERE assignee_id IS NOT NULL")
    claims = await routing_app.scalar("SELECT count(*) FROM case_history WHERE action = 'claimed'")
    assert (leased, claims) == (30, 30)


async def test_expired_lease_returns_the_case_to_its_queue(start_routing):
    async with start_routing(lease_sweep_interval_s=60) as app:  # lazily, at claim time
        case = await app.seed(make_report(category="spam"))
        first = await app.client.post("/v1/queues/general/claim", json={"lease_seconds": 1},
                                      headers=app.auth("frank"))
        assert first.status_code == 200
        assert (await app.client.post("/v1/queues/general/claim",
                                      headers=app.auth("gina"))).status_code == 204
        await asyncio.sleep(1.1)
        again = await app.client.post("/v1/queues/general/claim", headers=app.auth("gina"))
        assert again.status_code == 200 and again.json()["id"] == str(case.id)
        assert again.json()["assignee_id"] == "gina"
        history = (await app.client.get(f"/v1/cases/{case.id}", headers=app.auth())).json()
        assert [h["action"] for h in history["history"]] == \
            ["opened", "claimed", "lease_expired", "claimed"]
        late = await app.client.post(f"/v1/cases/{case.id}/lease", headers=app.auth("frank"))
        assert late.status_code == 409


async def test_lease_sweeper_returns_expired_cases_without_a_claim(routing_app):
    case = await routing_app.seed(make_report(category="spam"))
    await routing_app.client.post("/v1/queues/general/claim", json={"lease_seconds": 1},
                                  headers=routing_app.auth("hank"))

    async def returned():
        view = (await routing_app.client.get(f"/v1/cases/{case.id}",
                                             headers=routing_app.auth())).json()
        return view if view["assignee_id"] is None else None
    view = await eventually(returned, what="the sweeper to return the case", timeout=5)
    assert view["history"][-1]["action"] == "lease_expired"
    queues = (await routing_app.client.get("/v1/queues", headers=routing_app.auth())).json()
    general = next(q for q in queues["queues"] if q["name"] == "general")
    assert (general["waiting"], general["in_review"]) == (1, 0)


async def test_lease_renewal_and_release(routing_app):
    case = await routing_app.seed(make_report(category="spam"))
    claimed = await routing_app.client.post("/v1/queues/general/claim", json={"lease_seconds": 60},
                                            headers=routing_app.auth("ida"))
    before = datetime.fromisoformat(claimed.json()["lease_expires_at"])
    renewed = await routing_app.client.post(f"/v1/cases/{case.id}/lease",
                                            json={"lease_seconds": 600},
                                            headers=routing_app.auth("ida"))
    assert renewed.status_code == 200
    assert datetime.fromisoformat(renewed.json()["lease_expires_at"]) > before
    # Both answers carry the lease token decision verifies (with the public key only).
    for answer in (claimed.json(), renewed.json()):
        lease = lease_tokens.read(lease_tokens.DEV_VERIFY_KEY, answer["lease_token"])
        assert (lease.reviewer_id, lease.case_id, lease.queue) == ("ida", case.id, "general")
        assert lease.expires_at == datetime.fromisoformat(
            answer["lease_expires_at"]).replace(microsecond=0)
    stranger = await routing_app.client.post(f"/v1/cases/{case.id}/release",
                                             headers=routing_app.auth("jack"))
    assert stranger.status_code == 409
    assert stranger.headers["content-type"] == "application/problem+json"
    too_long = await routing_app.client.post(f"/v1/cases/{case.id}/lease",
                                             json={"lease_seconds": 10**7},
                                             headers=routing_app.auth("ida"))
    assert too_long.status_code == 422
    released = await routing_app.client.post(f"/v1/cases/{case.id}/release",
                                             json={"reason": "conflict of interest"},
                                             headers=routing_app.auth("ida"))
    assert released.status_code == 200 and released.json()["assignee_id"] is None
    again = await routing_app.client.post("/v1/queues/general/claim",
                                          headers=routing_app.auth("jack"))
    assert again.json()["id"] == str(case.id)


async def test_transfer_moves_the_case_unclaimed_and_emits_cases_routed(routing_app):
    case = await routing_app.seed(make_report(category="spam"))
    await routing_app.client.post("/v1/queues/general/claim", headers=routing_app.auth("kim"))
    moved = await routing_app.client.post(
        f"/v1/cases/{case.id}/transfer", headers=routing_app.auth("kim"),
        json={"queue": "scams_fraud", "reason": "this is a phishing kit, not spam"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["queue"] == "scams_fraud" and body["assignee_id"] is None
    assert datetime.fromisoformat(body["due_at"]) == case.due_at  # the clock does not restart
    assert body["priority"] == case.priority
    events = await routing_app.routed(2)
    assert events[1].data["reason"] == "transferred" and events[1].data["queue"] == "scams_fraud"
    assert "phishing kit" in events[1].data["reason_detail"]
    taken = await routing_app.client.post("/v1/queues/scams_fraud/claim",
                                          headers=routing_app.auth("lee"))
    assert taken.json()["id"] == str(case.id)


async def test_transfer_needs_the_lease_or_a_lead_and_a_real_queue(routing_app):
    case = await routing_app.seed(make_report(category="spam"))
    path = f"/v1/cases/{case.id}/transfer"
    body = {"queue": "scams_fraud", "reason": "misrouted"}
    assert (await routing_app.client.post(path, json=body,
                                          headers=routing_app.auth("mo"))).status_code == 409
    unknown = await routing_app.client.post(path, json={"queue": "nowhere", "reason": "x"},
                                            headers=routing_app.auth("lead", roles=["lead"]))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.queue"
    missing_reason = await routing_app.client.post(path, json={"queue": "scams_fraud"},
                                                   headers=routing_app.auth("lead", roles=["lead"]))
    assert missing_reason.status_code == 422
    by_lead = await routing_app.client.post(path, json=body,
                                            headers=routing_app.auth("lead", roles=["lead"]))
    assert by_lead.status_code == 200 and by_lead.json()["queue"] == "scams_fraud"


async def test_trained_queues_need_the_skills(routing_app):
    case = await routing_app.seed(make_report(category="child_sexual_exploitation"))
    untrained = routing_app.auth("nina")
    trained = routing_app.auth("olga", skills=["child_safety"])
    for method, path in (("POST", "/v1/queues/child_safety/claim"),
                         ("GET", "/v1/queues/child_safety/cases"),
                         ("GET", f"/v1/cases/{case.id}")):
        response = await routing_app.client.request(method, path, headers=untrained)
        assert response.status_code == 403, path
        assert "child_safety" in response.json()["detail"]
    claimed = await routing_app.client.post("/v1/queues/child_safety/claim", headers=trained)
    assert claimed.status_code == 200 and claimed.json()["id"] == str(case.id)


async def test_requests_without_a_valid_token_or_to_unknown_things_are_problems(routing_app):
    assert (await routing_app.client.get("/v1/queues")).status_code == 401
    bad = await routing_app.client.get("/v1/queues", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    unknown = await routing_app.client.post("/v1/queues/nowhere/claim", headers=routing_app.auth())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    missing = await routing_app.client.get(f"/v1/cases/{uuid.uuid4()}", headers=routing_app.auth())
    assert missing.status_code == 404
    not_uuid = await routing_app.client.get("/v1/cases/not-a-uuid", headers=routing_app.auth())
    assert not_uuid.status_code == 422
    bad_cursor = await routing_app.client.get("/v1/queues/general/cases?cursor=%%%",
                                              headers=routing_app.auth())
    assert bad_cursor.status_code == 422
    bad_body = await routing_app.client.post("/v1/queues/general/claim",
                                             content=b"{not json",
                                             headers={**routing_app.auth(),
                                                      "content-type": "application/json"})
    assert bad_body.status_code == 422


async def test_queue_listing_pages_in_claim_order(routing_app):
    for _ in range(5):
        await routing_app.seed(make_report(category="spam"))
    await routing_app.seed(make_report(category="spam", channel=Channel.TRUSTED_FLAGGER))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await routing_app.client.get("/v1/queues/general/cases", params=params,
                                             headers=routing_app.auth())).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 and len({c["id"] for c in seen}) == 6
    keys = [(-c["priority"], c["due_at"]) for c in seen]
    assert keys == sorted(keys)
    assert seen[0]["channels"] == ["trusted_flagger"]


def skew_routing_clock(monkeypatch, offset: timedelta) -> None:
    """Make this routing process's clock run ``offset`` ahead of the database's (a host whose
    clock drifted); its routes and background workers both read it."""
    from warden.routing import routes, workers

    def skewed() -> datetime:
        return datetime.now(UTC) + offset
    monkeypatch.setattr(routes, "utcnow", skewed)
    monkeypatch.setattr(workers, "utcnow", skewed)


async def test_a_process_whose_clock_runs_fast_neither_steals_nor_sweeps_a_live_lease(
        routing_app, monkeypatch):
    held = await routing_app.seed(make_report(category="spam"))
    claimed = await routing_app.client.post("/v1/queues/general/claim", json={"lease_seconds": 300},
                                            headers=routing_app.auth("kate"))
    assert claimed.status_code == 200 and claimed.json()["id"] == str(held.id)
    skew_routing_clock(monkeypatch, timedelta(minutes=10))
    # A case whose lease really ran out: once the sweeper has returned it, it has also judged
    # kate's lease (it sweeps in expiry order, both in one pass).
    lapsed = await routing_app.seed(make_report(category="spam"))
    grabbed = await routing_app.client.post("/v1/queues/general/claim", json={"lease_seconds": 1},
                                            headers=routing_app.auth("liam"))
    assert grabbed.status_code == 200 and grabbed.json()["id"] == str(lapsed.id)
    # Its lease runs from the database's clock, not the fast one.
    lapses_at = datetime.fromisoformat(grabbed.json()["lease_expires_at"])
    assert lapses_at < datetime.now(UTC) + timedelta(seconds=30)

    async def swept():
        view = (await routing_app.client.get(f"/v1/cases/{lapsed.id}",
                                             headers=routing_app.auth())).json()
        return view["assignee_id"] is None
    await eventually(swept, what="the sweeper to return the lapsed lease", timeout=10)

    stealer = await routing_app.client.post("/v1/queues/general/claim",
                                            headers=routing_app.auth("mona"))
    assert stealer.status_code == 200 and stealer.json()["id"] == str(lapsed.id)
    view = (await routing_app.client.get(f"/v1/cases/{held.id}", headers=routing_app.auth())).json()
    assert view["assignee_id"] == "kate"
    assert [h["action"] for h in view["history"]] == ["opened", "claimed"]
    renewed = await routing_app.client.post(f"/v1/cases/{held.id}/lease",
                                            headers=routing_app.auth("kate"))
    assert renewed.status_code == 200, renewed.text
    # The lease runs from the database's clock, not the fast one.
    until = datetime.fromisoformat(renewed.json()["lease_expires_at"])
    assert until < datetime.now(UTC) + timedelta(seconds=routing_app.settings.lease_seconds + 60)


async def test_a_process_whose_clock_runs_slow_still_sees_a_lease_run_out(routing_app,
                                                                         monkeypatch):
    case = await routing_app.seed(make_report(category="spam"))
    first = await routing_app.client.post("/v1/queues/general/claim", json={"lease_seconds": 1},
                                          headers=routing_app.auth("nora"))
    assert first.status_code == 200
    skew_routing_clock(monkeypatch, timedelta(minutes=-10))
    await asyncio.sleep(1.1)  # the lease is a duration on the database's clock: let it pass

    async def claimed_by_otto():
        # The sweeper may hold the lapsed case's row for a moment (claims skip locked rows).
        again = await routing_app.client.post("/v1/queues/general/claim",
                                              headers=routing_app.auth("otto"))
        return again if again.status_code == 200 else None
    again = await eventually(claimed_by_otto, what="otto to claim the lapsed case", timeout=10)
    assert again.json()["id"] == str(case.id)
    late = await routing_app.client.post(f"/v1/cases/{case.id}/lease", headers=routing_app.auth("nora"))
    assert late.status_code == 409
