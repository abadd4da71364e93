"""``warden intake ...``: manage the upstream clients allowed to submit reports."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from warden.intake.access import ALL_SCOPES
from warden.intake.settings import IntakeSettings

app = typer.Typer(help="Intake service: upstream clients and their API keys.",
                  no_args_is_help=True)
clients_app = typer.Typer(help="Register, list and revoke upstream clients.",
                          no_args_is_help=True)
app.add_typer(clients_app, name="clients")


def _run(work):
    """Run ``work(sessions)`` against the intake database and dispose of the engine."""
    from warden.shared.db import create_engine, session_factory

    async def main():
        engine = create_engine(IntakeSettings().database_url, pool_size=1)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@clients_app.command("create", epilog="Example:\n\n  bin/warden intake clients create --name partner-x --scope submit:user")
def create(
    name: Annotated[str, typer.Option(help="unique name of the upstream system")],
    scope: Annotated[list[str], typer.Option(
        help=f"repeatable; one of: {', '.join(ALL_SCOPES)}")],
    rate: Annotated[float | None, typer.Option(help="requests per second (default: setting)")]
    = None,
    burst: Annotated[int | None, typer.Option(help="burst size (default: setting)")] = None,
) -> None:
    """Register a client and print its API key (shown this once; only its hash is kept)."""
    from warden.intake.clients import create_client
    from warden.shared.errors import WardenError

    try:
        client_id, key = _run(lambda sessions: create_client(sessions, name, scope,
                                                             rate_per_s=rate, burst=burst))
    except WardenError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"client_id: {client_id}")
    typer.echo(f"api_key:   {key}")
    typer.echo("Store the key now: it cannot be shown again.", err=True)


@clients_app.command("list", epilog="Example:\n\n  bin/warden intake clients list")
def list_() -> None:
    """Every client with its scopes (keys are never shown, only their first characters)."""
    from warden.intake.clients import list_clients

    for client in _run(list_clients):
        state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
        typer.echo(f"{client.name:24} {client.key_hint}…  {state:18} {' '.join(client.scopes)}")


@clients_app.command("revoke", epilog="Example:\n\n  bin/warden intake clients revoke partner-x")
def revoke(name: Annotated[str, typer.Argument(help="the client's name")]) -> None:
    """Revoke a client's key (workers that verified it recently accept it up to the cache TTL)."""
    from warden.intake.clients import revoke_client

    if not _run(lambda sessions: revoke_client(sessions, name)):
        typer.echo(f"no active client named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")
