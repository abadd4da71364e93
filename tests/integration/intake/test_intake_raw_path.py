"""POST /v1/reports goes through a plain asyncpg pool, not the SQLAlchemy session: a database
outage on that path is still a 503 problem with Retry-After (never a 500), nothing is half
written, and the service uses the database again by itself once it is back."""

from __future__ import annotations

import uuid

import asyncpg
import sqlalchemy as sa

from tests.integration.intake.conftest import intake_settings
from tests.support.apps import eventually, running
from tests.support.tcp_proxy import TcpProxy
from warden.intake.access import ALL_SCOPES
from warden.intake.app import MIGRATIONS, create_app
from warden.intake.examples import example
from warden.shared.apikeys.store import create_client
from warden.shared.db import asyncpg_dsn


def report_on(subject_id: str) -> dict:
    body = example("user")
    body["content"]["id"] = subject_id
    return body


async def test_an_outage_on_the_raw_insert_path_is_a_503_then_the_report_goes_through(
        infra, topic_prefix, make_database):
    url = sa.make_url(await make_database("intake", MIGRATIONS))
    proxy = TcpProxy(url.host, url.port)
    await proxy.start()
    settings = intake_settings(infra, url.set(host="127.0.0.1", port=proxy.port)
                               .render_as_string(hide_password=False), topic_prefix)
    app = create_app(settings)
    async with running(app) as http:
        runtime = app.state.runtime
        _, key = await create_client(runtime.sessions, f"client-{uuid.uuid4().hex[:8]}",
                                     list(ALL_SCOPES), known_scopes=ALL_SCOPES)
        auth = {"X-API-Key": key}
        before = await http.post("/v1/reports", json=report_on("post-before-outage"),
                                 headers=auth)
        assert before.status_code == 201, before.text

        subject_id = f"post-outage-{uuid.uuid4().hex[:8]}"
        headers = {**auth, "Idempotency-Key": subject_id}
        await proxy.cut()
        during = await http.post("/v1/reports", json=report_on(subject_id), headers=headers)
        assert during.status_code == 503, during.text
        assert during.headers["content-type"] == "application/problem+json"
        assert int(during.headers["retry-after"]) > 0
        assert during.json()["type"] == "urn:warden:problem:unavailable"

        await proxy.restore()

        async def accepted_again():
            answer = await http.post("/v1/reports", json=report_on(subject_id), headers=headers)
            assert answer.status_code in (201, 503), answer.text
            return answer.status_code == 201
        await eventually(accepted_again, timeout=15, what="the report to be accepted again")

        # Counted on a connection of our own, straight to the database (the engine's pooled
        # connections went through the proxy and were cut with it).
        conn = await asyncpg.connect(asyncpg_dsn(url.render_as_string(hide_password=False)))
        try:
            stored = await conn.fetchval(
                "SELECT count(*) FROM reports WHERE subject_id = $1", subject_id)
            staged = await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", subject_id)
        finally:
            await conn.close()
        assert (stored, staged) == (1, 1)
    await proxy.cut()
