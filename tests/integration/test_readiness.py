"""/readyz: honest about each dependency, quick even when one of them hangs."""

from __future__ import annotations

import asyncio

from tests.support.apps import eventually, running
from tests.support.tcp_proxy import database_behind_proxy
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings


async def test_ready_when_consumers_are_disabled_by_configuration(infra, topic_prefix,
                                                                  make_database):
    settings = DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                                kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix,
                                consumers_enabled=False)
    async with running(create_app(settings)) as client:
        async def ready():  # the relay reports healthy after its first round
            response = await client.get("/readyz")
            return response if response.status_code == 200 else None
        response = await eventually(ready, timeout=10,
                                    what="/readyz 200 with the consumers disabled")
    assert response.json()["checks"]["consumer:cases"] == {
        "ok": True, "detail": "disabled by configuration"}


async def test_a_hanging_database_makes_readyz_answer_quickly_and_name_it(infra, topic_prefix,
                                                                          make_database):
    proxy, proxied_url = await database_behind_proxy(await make_database("decision", MIGRATIONS))
    settings = DecisionSettings(database_url=proxied_url, kafka_bootstrap=infra.kafka,
                                topic_prefix=topic_prefix, readiness_timeout_s=0.5)
    try:
        async with running(create_app(settings)) as client:
            proxy.stall()
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await asyncio.wait_for(client.get("/readyz"), 10)
            took = loop.time() - started
            proxy.flow()
    finally:
        proxy.flow()
        await proxy.cut()
    assert response.status_code == 503
    body = response.json()
    assert body["slow"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "detail": "slow: no answer within 0.5 s"}
    assert body["checks"]["kafka"]["ok"] is True
    assert took < 2.0
