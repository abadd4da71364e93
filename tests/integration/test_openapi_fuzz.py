"""Schemathesis against every service's OpenAPI document, served by the real app (real
PostgreSQL and Kafka), with valid credentials and without: no 5xx, and only documented
responses (see ``tests/support/openapi_fuzz.py``)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.apps import serving
from tests.support.openapi_fuzz import FuzzRun, fuzz
from warden.intake.access import ALL_SCOPES
from warden.shared.auth import LEAD_ROLES, OPERATOR_ROLE, REVIEWER_ROLE, issue_reviewer_token
from warden.cli.services import service

API_KEY = "schemathesis-key"
# Per operation and generation mode. Tuned so all four services take well under a minute
# on two cores; intake gets more, it is the one facing the outside world.
EXAMPLES = {"intake": 15, "routing": 8, "decision": 10, "notify": 8}
EXAMPLES_WITHOUT_CREDENTIALS = 3


def settings_for(name: str, infra, database_url: str, prefix: str):
    values = dict(database_url=database_url, kafka_bootstrap=infra.kafka, topic_prefix=prefix,
                  consumer_backoff_initial_s=0.05)
    if name == "intake":
        values.update(dev_api_key=API_KEY, rate_limit_per_s=10_000.0, rate_limit_burst=10_000,
                      auth_failure_burst=10_000, max_body_bytes=400_000)
    if name == "routing":
        values.update(reload_on_sighup=False)
    if name == "notify":
        values.update(delivery_enabled=False)
    return service(name).settings_class(**values)


def credentials(name: str, settings) -> dict[str, str]:
    """What a fully entitled caller of the service sends."""
    if name == "intake":
        return {"X-API-Key": API_KEY}
    roles = [OPERATOR_ROLE] if name == "notify" else [REVIEWER_ROLE, *LEAD_ROLES]
    skills = ["child_safety", "terrorism"] if name == "routing" else []
    token = issue_reviewer_token(settings.reviewer_token_secret, "fuzzer", skills, roles,
                                 services=[name])
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("name", ["intake", "routing", "decision", "notify"])
async def test_generated_requests_get_no_5xx_and_only_documented_responses(
        name, infra, topic_prefix, make_database):
    info = service(name)
    settings = settings_for(name, infra, await make_database(name, info.migrations),
                            topic_prefix)
    app = __import__(f"warden.{name}.app", fromlist=["create_app"]).create_app(settings)
    run = FuzzRun()
    async with serving(app) as base_url:
        await asyncio.to_thread(fuzz, base_url, credentials(name, settings), EXAMPLES[name], run)
        anonymous = await asyncio.to_thread(fuzz, base_url, {}, EXAMPLES_WITHOUT_CREDENTIALS)
    assert not run.failures, "\n\n".join(run.failures)
    assert not anonymous.failures, "\n\n".join(anonymous.failures)
    # Without credentials nothing protected got past authentication.
    for (operation, status) in anonymous.seen:
        assert status in (400, 401, 404, 405, 422) or operation == "GET /v1/taxonomy", (operation,
                                                                                   status)
    if name == "intake":
        # The run reached the write path, not only the validation in front of it.
        assert run.seen[("POST /v1/reports", 201)] >= 2, run.seen
        assert run.seen[("POST /v1/reports", 422)] > 0
        assert run.seen[("POST /v1/reports/batch", 200)] > 0
    # With credentials the requests reached the handlers (a 404 is the handler's answer).
    assert any(status not in (400, 401, 403, 422) for (_, status) in run.seen), run.seen
