"""Refusals over a real socket: a client still sending a body it will not be allowed to send
gets its 413 or 415 problem document, never a connection reset."""

from __future__ import annotations

import asyncio

import requests

from tests.integration.intake.conftest import MAX_BODY, intake_settings
from tests.support.apps import serving
from warden.intake.app import MIGRATIONS, create_app

API_KEY = "tcp-test-key"
# Three times the limit: more than loopback socket buffers reliably absorb before the server
# answers, so a server that answered without reading would often reset the connection.
OVERSIZED = b"[" + b"1," * (MAX_BODY * 3 // 2) + b"1]"
TRIES = 30


def post_many(url: str, body: bytes, content_type: str, times: int) -> list[requests.Response]:
    with requests.Session() as session:
        return [session.post(url, data=body, timeout=30,
                             headers={"X-API-Key": API_KEY, "Content-Type": content_type})
                for _ in range(times)]


async def test_refused_bodies_get_their_problem_document_not_a_reset(infra, topic_prefix,
                                                                      make_database):
    url = await make_database("intake", MIGRATIONS)
    app = create_app(intake_settings(infra, url, topic_prefix, dev_api_key=API_KEY))
    async with serving(app) as base_url:
        too_large = await asyncio.to_thread(post_many, f"{base_url}/v1/reports",
                                            OVERSIZED, "application/json", TRIES)
        not_json = await asyncio.to_thread(post_many, f"{base_url}/v1/reports/batch",
                                           b"x" * (MAX_BODY - 1000), "text/plain", TRIES)
    assert [r.status_code for r in too_large] == [413] * TRIES
    assert all(r.json()["type"] == "urn:warden:problem:payload-too-large" for r in too_large)
    assert [r.status_code for r in not_json] == [415] * TRIES
    assert all(r.headers["content-type"] == "application/problem+json" for r in not_json)
