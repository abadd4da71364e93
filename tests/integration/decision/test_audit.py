"""The hash-chained audit log: every step recorded, tampering detected, no fork under
concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from typer.testing import CliRunner

from tests.integration.decision.conftest import remove_body
from warden.decision import audit
from warden.shared.db import create_engine, session_factory

AUDITOR = ("auditor",)


async def test_steps_are_chained_and_a_changed_row_is_named(decision, monkeypatch):
    for _ in range(2):
        case = await decision.routed_case()
        r = await decision.client.post(
            f"/v1/cases/{case.case_id}/decisions",
            json=remove_body(actions=[{"code": "remove"}, {"code": "account_terminate"}]),
            headers=decision.as_holder(case))
        await decision.client.post(f"/v1/decisions/{r.json()['id']}/approve",
                                   json={"reason": "checked"}, headers=decision.auth("bob"))
    verified = await decision.client.get("/v1/audit/verify",
                                         headers=decision.auth("eve", roles=AUDITOR))
    assert verified.status_code == 200
    body = verified.json()
    assert (body["ok"], body["records"], body["first_bad_seq"]) == (True, 6, None)
    reviewer_only = await decision.client.get("/v1/audit/verify", headers=decision.auth())
    assert reviewer_only.status_code == 403

    engine = create_engine(decision.settings.database_url, pool_size=1)
    async with engine.begin() as conn:
        kinds = (await conn.execute(sa.text("SELECT kind FROM audit_log ORDER BY seq"))
                 ).scalars().all()
        assert kinds == ["decision_pending_approval", "decision_approved", "decision_final"] * 2
        refused = None
        try:
            async with conn.begin_nested():
                await conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory'"))
        except sa.exc.DBAPIError as exc:
            refused = exc
        assert refused is not None and "append-only" in str(refused)
        # Someone with the power to lift the guard rewrites who approved the first decision.
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text(
            "UPDATE audit_log SET content = jsonb_set(content, '{approved_by}', '\"mallory\"') "
            "WHERE seq = 3"))
    await engine.dispose()

    broken = (await decision.client.get("/v1/audit/verify",
                                        headers=decision.auth("eve", roles=AUDITOR))).json()
    assert (broken["ok"], broken["first_bad_seq"], broken["head_seq"]) == (False, 3, 2)
    assert "does not match its hash" in broken["problem"]

    from warden.cli.app import app
    monkeypatch.setenv("WARDEN_DECISION_DATABASE_URL", decision.settings.database_url)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at record 3" in result.output


async def test_concurrent_writers_never_fork_the_chain(decision):
    engine = create_engine(decision.settings.database_url, pool_size=12)
    sessions = session_factory(engine)

    async def write(n: int) -> None:
        async with sessions() as session, session.begin():
            await audit.append(session, kind="test", entity_id=n, actor="load",
                               content={"n": n}, at=datetime.now(UTC))

    await asyncio.gather(*[write(n) for n in range(40)])
    async with sessions() as session:
        pages: list[int] = []  # what the CLI's progress bar is told
        result = await audit.verify(session, page=7, on_page=pages.append)
        seqs = (await session.execute(sa.text("SELECT seq FROM audit_log ORDER BY seq"))
                ).scalars().all()
    await engine.dispose()
    assert seqs == list(range(1, 41))
    assert result.ok and result.records == 40
    assert pages == [7, 7, 7, 7, 7, 5]
