"""Who may call what, for every endpoint of every service.

The endpoints come from each app's own routes, so an endpoint added without an entry in
``MATRIX`` fails this test. Each protected endpoint is called without credentials, with an
expired, a forged (wrong key), an unknown-key-id and a wrong-audience token (or a bad API
key), and with the wrong role (or scope): 401 or 403 problem documents, as documented in
its OpenAPI entry. Another client's resources are 404 (intake) and a queue the reviewer is
not trained for is 403 (routing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.routing import Mount, Route

from tests.support.apps import running
from warden.intake.access import READ_SCOPE, submit_scope
from warden.intake.examples import example
from warden.shared.apikeys.store import create_client
from warden.shared.auth import issue_reviewer_token
from warden.cli.services import service

PUBLIC, API_KEY, REVIEWER, LEAD, OPERATOR = "public", "api key", "reviewer", "lead", "operator"
AUDITOR = "auditor"
# The API-key scopes each service knows.
KNOWN_SCOPES = {"intake": [submit_scope("user"), submit_scope("regulator"), READ_SCOPE],
                "decision": ["appeals:file"]}
SOME_ID = "3f1c1d7e-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Entry:
    who: str
    path: str  # the template with its parameters filled in
    scope: str | None = None  # the API-key scope it needs (or its prefix)
    body: dict | None = None


OPS = {"GET /healthz": Entry(PUBLIC, "/healthz"), "GET /readyz": Entry(PUBLIC, "/readyz"),
       "GET /metrics": Entry(PUBLIC, "/metrics")}
MATRIX: dict[str, dict[str, Entry]] = {
    "intake": {**OPS,
               "POST /v1/reports": Entry(API_KEY, "/v1/reports", submit_scope("user"),
                                         example("user")),
               # Any submit scope opens the batch; each item is then checked on its own.
               "POST /v1/reports/batch": Entry(API_KEY, "/v1/reports/batch", "submit:",
                                               {"reports": [example("user")]}),
               "GET /v1/reports/{report_id}": Entry(API_KEY, f"/v1/reports/{SOME_ID}",
                                                    READ_SCOPE),
               "GET /v1/taxonomy": Entry(PUBLIC, "/v1/taxonomy")},
    "routing": {**OPS,
                "GET /v1/queues": Entry(REVIEWER, "/v1/queues"),
                "GET /v1/queues/{queue}/cases": Entry(REVIEWER, "/v1/queues/general/cases"),
                "POST /v1/queues/{queue}/claim": Entry(REVIEWER, "/v1/queues/general/claim"),
                "GET /v1/cases/{case_id}": Entry(REVIEWER, f"/v1/cases/{SOME_ID}"),
                "POST /v1/cases/{case_id}/release": Entry(REVIEWER,
                                                          f"/v1/cases/{SOME_ID}/release"),
                "POST /v1/cases/{case_id}/lease": Entry(REVIEWER, f"/v1/cases/{SOME_ID}/lease"),
                "POST /v1/cases/{case_id}/transfer": Entry(
                    REVIEWER, f"/v1/cases/{SOME_ID}/transfer",
                    body={"queue": "general", "reason": "x"}),
                "GET /v1/policy": Entry(REVIEWER, "/v1/policy"),
                "POST /v1/policy/reload": Entry(LEAD, "/v1/policy/reload")},
    "decision": {**OPS,
                 "POST /v1/cases/{case_id}/decisions": Entry(
                     REVIEWER, f"/v1/cases/{SOME_ID}/decisions",
                     body={"actions": [{"code": "remove"}], "policy_id": "CS-HATE-1",
                           "facts": "x", "reasoning": "y"}),
                 "GET /v1/cases/{case_id}/decisions": Entry(REVIEWER,
                                                            f"/v1/cases/{SOME_ID}/decisions"),
                 "GET /v1/decisions/{decision_id}": Entry(REVIEWER, f"/v1/decisions/{SOME_ID}"),
                 "GET /v1/decisions/{decision_id}/statement-of-reasons": Entry(
                     REVIEWER, f"/v1/decisions/{SOME_ID}/statement-of-reasons"),
                 "GET /v1/approvals": Entry(REVIEWER, "/v1/approvals"),
                 "POST /v1/decisions/{decision_id}/approve": Entry(
                     REVIEWER, f"/v1/decisions/{SOME_ID}/approve", body={"reason": "ok"}),
                 "POST /v1/decisions/{decision_id}/reject": Entry(
                     REVIEWER, f"/v1/decisions/{SOME_ID}/reject", body={"reason": "no"}),
                 "GET /v1/accounts/{account_id}/strikes": Entry(REVIEWER,
                                                                "/v1/accounts/acct-1/strikes"),
                 "POST /v1/appeals": Entry(API_KEY, "/v1/appeals", "appeals:file", body={
                     "decision_id": SOME_ID, "appellant_id": "acct-1", "reason": "wrong"}),
                 "GET /v1/appeals/{appeal_id}": Entry(REVIEWER, f"/v1/appeals/{SOME_ID}"),
                 "POST /v1/appeals/{appeal_id}/decision": Entry(
                     REVIEWER, f"/v1/appeals/{SOME_ID}/decision", body={}),
                 "GET /v1/audit/verify": Entry(AUDITOR, "/v1/audit/verify")},
    "notify": {**OPS,
               "GET /v1/notifications": Entry(OPERATOR, "/v1/notifications"),
               "GET /v1/notifications/{notification_id}": Entry(
                   OPERATOR, f"/v1/notifications/{SOME_ID}"),
               "POST /v1/notifications/{notification_id}/redeliver": Entry(
                   OPERATOR, f"/v1/notifications/{SOME_ID}/redeliver"),
               "GET /v1/endpoints": Entry(OPERATOR, "/v1/endpoints"),
               "POST /v1/endpoints": Entry(OPERATOR, "/v1/endpoints",
                                           body={"name": "x", "url": "http://127.0.0.1:9/x"}),
               "PATCH /v1/endpoints/{endpoint_id}": Entry(OPERATOR,
                                                          f"/v1/endpoints/{SOME_ID}",
                                                          body={"enabled": False}),
               "POST /v1/endpoints/{endpoint_id}/rotate-secret": Entry(
                   OPERATOR, f"/v1/endpoints/{SOME_ID}/rotate-secret", body={}),
               "POST /v1/templates/preview": Entry(OPERATOR, "/v1/templates/preview",
                                                   body={"event": {}, "locale": "en"})},
}
# Roles that are the wrong ones for each kind of endpoint.
WRONG_ROLES = {REVIEWER: ["operator"], LEAD: ["reviewer"], OPERATOR: ["reviewer", "lead"],
               AUDITOR: ["reviewer"]}


def endpoints(app) -> set[str]:
    """Every endpoint the app serves, as "METHOD /template" (docs pages excepted)."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return {f"{method} {path}" for path, methods in _routes(app.routes)
            if path not in docs for method in methods - {"HEAD"}}


def _routes(routes, prefix: str = ""):
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, set(route.methods or ())
        inner = getattr(route, "original_router", None)  # FastAPI wraps included routers
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int, label: str) -> None:
    assert response.status_code == status, (label, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", label
    assert response.json()["status"] == status, label


async def call(http, key: str, entry: Entry, headers: dict[str, str]):
    method = key.split(" ", 1)[0]
    return await http.request(method, entry.path, headers=headers, json=entry.body)


def documented(app, key: str) -> set[int]:
    method, path = key.split(" ", 1)
    operation = app.openapi()["paths"][path][method.lower()]
    return {int(status) for status in operation["responses"]}


@pytest.mark.parametrize("name", list(MATRIX))
async def test_every_endpoint_answers_each_kind_of_caller_as_documented(
        name, infra, topic_prefix, make_database):
    info = service(name)
    values = dict(database_url=await make_database(name, info.migrations),
                  kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix,
                  consumers_enabled=False)
    if name == "intake":
        values.update(auth_failure_burst=10_000)
    if name == "notify":
        values.update(delivery_enabled=False)
    if name == "routing":
        values.update(reload_on_sighup=False)
    settings = info.settings_class(**values)
    app = __import__(f"warden.{name}.app", fromlist=["create_app"]).create_app(settings)

    assert endpoints(app) == set(MATRIX[name]), "every endpoint needs an entry in MATRIX"
    secret, kid = settings.reviewer_token_secret, settings.reviewer_token_kid
    async with running(app) as http:
        for key, entry in MATRIX[name].items():
            if entry.who == PUBLIC:
                response = await call(http, key, entry, {})
                assert response.status_code not in (401, 403), key
                continue
            assert {401, 403} <= documented(app, key), key
            assert_problem(await call(http, key, entry, {}), 401, f"{key} without credentials")
            if entry.who == API_KEY:
                await check_api_key_endpoint(http, app, key, entry, KNOWN_SCOPES[name])
                continue
            right = [entry.who]
            bad_tokens = {
                "expired": issue_reviewer_token(secret, "eve", roles=right, kid=kid,
                                                ttl=timedelta(seconds=-5)),
                "forged": issue_reviewer_token("a-key-that-is-not-the-service-key!!", "eve",
                                               roles=right, kid=kid),
                "unknown key id": issue_reviewer_token(secret, "eve", roles=right, kid="nope"),
                "wrong audience": issue_reviewer_token(
                    secret, "eve", roles=right, kid=kid,
                    services=[s for s in MATRIX if s != name]),
            }
            for what, token in bad_tokens.items():
                assert_problem(await call(http, key, entry, bearer(token)), 401, f"{key} {what}")
            for role in WRONG_ROLES[entry.who]:
                token = issue_reviewer_token(secret, "eve", roles=[role], kid=kid,
                                             services=[name])
                assert_problem(await call(http, key, entry, bearer(token)), 403,
                               f"{key} with role {role}")
            token = issue_reviewer_token(secret, "eve", roles=right, kid=kid, services=[name])
            response = await call(http, key, entry, bearer(token))
            assert response.status_code not in (401, 403), (key, response.text)
        if name == "routing":
            untrained = issue_reviewer_token(secret, "eve", roles=[REVIEWER], kid=kid)
            assert_problem(await http.post("/v1/queues/child_safety/claim",
                                           headers=bearer(untrained)), 403,
                           "a queue the reviewer has not the skills for")


async def check_api_key_endpoint(http, app, key: str, entry: Entry, known: list[str]) -> None:
    sessions = app.state.runtime.sessions
    assert_problem(await call(http, key, entry, {"X-API-Key": "wik_not-a-key"}), 401,
                   f"{key} with an unknown key")
    others = [s for s in known if not s.startswith(entry.scope)]
    _, wrong_scope = await create_client(sessions, f"wrong-{uuid.uuid4().hex[:6]}", others,
                                         known_scopes=known)
    assert_problem(await call(http, key, entry, {"X-API-Key": wrong_scope}), 403,
                   f"{key} without scope {entry.scope}")
    _, right = await create_client(sessions, f"right-{uuid.uuid4().hex[:6]}", known,
                                   known_scopes=known)
    response = await call(http, key, entry, {"X-API-Key": right})
    assert response.status_code not in (401, 403), (key, response.text)
    if key == "GET /v1/reports/{report_id}":
        # Another client's report is not found, exactly like a report that does not exist.
        created = await http.post("/v1/reports", json=example("user"),
                                  headers={"X-API-Key": right})
        assert created.status_code in (200, 201), created.text
        _, other = await create_client(sessions, f"other-{uuid.uuid4().hex[:6]}", known,
                                       known_scopes=known)
        mine = await http.get(created.headers.get("location")
                              or f"/v1/reports/{created.json()['id']}",
                              headers={"X-API-Key": right})
        assert mine.status_code == 200
        theirs = await http.get(f"/v1/reports/{created.json()['id']}",
                                headers={"X-API-Key": other})
        assert_problem(theirs, 404, "another client's report")
