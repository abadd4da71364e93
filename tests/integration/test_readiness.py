"""/readyz: honest about each dependency, quick even when one of them hangs."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from tests.support.apps import running
from tests.support.tcp_proxy import TcpProxy
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings


async def test_ready_when_consumers_are_disabled_by_configuration(infra, topic_prefix,
                                                                  make_database):
    settings = DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                                kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix,
                                consumers_enabled=False)
    async with running(create_app(settings)) as client:
        async def ready():
            return await client.get("/readyz")
        response = await ready()
        for _ in range(50):  # the relay reports healthy after its first round
            if response.status_code == 200:
                break
            await asyncio.sleep(0.1)
            response = await ready()
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["consumer:cases"] == {
        "ok": True, "detail": "disabled by configuration"}


async def test_a_hanging_database_makes_readyz_answer_quickly_and_name_it(infra, topic_prefix,
                                                                          make_database):
    url = sa.make_url(await make_database("decision", MIGRATIONS))
    proxy = TcpProxy(url.host, url.port)
    await proxy.start()
    settings = DecisionSettings(
        database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False),
        kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix, readiness_timeout_s=0.5)
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
