"""``warden intake clients ...`` against a real database: the key is shown once and works."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from warden.intake.app import MIGRATIONS
from warden.intake.cli import app
from warden.shared.apikeys.keys import hash_api_key
from warden.shared.apikeys.store import client_for_key_hash
from warden.shared.db import create_engine, session_factory


async def lookup(url: str, key: str):
    engine = create_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            return await client_for_key_hash(session, hash_api_key(key))
    finally:
        await engine.dispose()


def test_create_list_and_revoke_a_client(make_database, monkeypatch):
    url = asyncio.run(_make(make_database))
    monkeypatch.setenv("WARDEN_INTAKE_DATABASE_URL", url)
    runner = CliRunner()

    created = runner.invoke(app, ["clients", "create", "--name", "moderation-app",
                                  "--scope", "submit:user", "--scope", "reports:read"])
    assert created.exit_code == 0, created.output
    key = created.stdout.split("api_key:")[1].split()[0]
    client = asyncio.run(lookup(url, key))
    assert client is not None and client.name == "moderation-app"
    assert client.scopes == {"submit:user", "reports:read"}

    again = runner.invoke(app, ["clients", "create", "--name", "moderation-app",
                                "--scope", "submit:user"])
    assert again.exit_code == 1 and "already exists" in again.output
    unknown = runner.invoke(app, ["clients", "create", "--name", "x", "--scope", "submit:all"])
    assert unknown.exit_code == 1 and "unknown scope" in unknown.output

    listed = runner.invoke(app, ["clients", "list"])
    assert "moderation-app" in listed.stdout and key not in listed.stdout
    assert key[:8] in listed.stdout

    assert runner.invoke(app, ["clients", "revoke", "moderation-app"]).exit_code == 0
    assert asyncio.run(lookup(url, key)) is None
    assert runner.invoke(app, ["clients", "revoke", "moderation-app"]).exit_code == 1


async def _make(make_database) -> str:
    return await make_database("intake", MIGRATIONS)
