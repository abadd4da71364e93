"""A database outage seen from the HTTP edge: a 503 problem with Retry-After, never a 500,
and the service recovers by itself when the database is back."""

from __future__ import annotations

from tests.support.apps import eventually, running
from tests.support.tcp_proxy import database_behind_proxy
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared.auth import issue_reviewer_token


async def test_requests_during_a_database_outage_get_503_then_recover(infra, topic_prefix,
                                                                       make_database):
    proxy, proxied_url = await database_behind_proxy(await make_database("decision", MIGRATIONS))
    settings = DecisionSettings(database_url=proxied_url, kafka_bootstrap=infra.kafka,
                                topic_prefix=topic_prefix)
    token = issue_reviewer_token(settings.reviewer_token_secret, "alice", [], ["reviewer"])
    headers = {"Authorization": f"Bearer {token}"}
    path = "/v1/decisions/00000000-0000-0000-0000-000000000001"
    async with running(create_app(settings)) as client:
        assert (await client.get(path, headers=headers)).status_code == 404

        await proxy.cut()
        during = await client.get(path, headers=headers)
        assert during.status_code == 503, during.text
        assert during.headers["content-type"] == "application/problem+json"
        assert int(during.headers["retry-after"]) > 0
        assert during.json()["type"] == "urn:warden:problem:unavailable"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]

        await proxy.restore()

        async def answers_again():
            return (await client.get(path, headers=headers)).status_code == 404
        await eventually(answers_again, timeout=15, what="the service to use the database again")

        async def ready_again():  # the outbox relay, backing off, notices on its next try
            return (await client.get("/readyz")).status_code == 200
        await eventually(ready_again, timeout=15, what="/readyz to report ready again")
    await proxy.cut()
