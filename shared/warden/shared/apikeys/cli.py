"""``warden <service> clients create|list|revoke``, for any service that uses API keys."""

# No ``from __future__ import annotations``: typer reads the option annotations, which name
# this factory's own arguments, so they must be evaluated where they are written.
import asyncio
from collections.abc import Sequence
from typing import Annotated

import typer

from warden.shared.apikeys.settings import ApiKeySettings


def clients_cli(settings_type: type[ApiKeySettings], scopes: Sequence[str]) -> typer.Typer:
    """The ``clients`` sub-command group of a service whose settings are ``settings_type``."""
    app = typer.Typer(help="Register, list and revoke upstream clients.", no_args_is_help=True)
    command = f"bin/warden {settings_type.service_name} clients"

    def run(work):
        """Run ``work(sessions)`` against the service's database and dispose of the engine."""
        from warden.shared.db import create_engine, session_factory

        async def main():
            engine = create_engine(settings_type().database_url, pool_size=1)
            try:
                return await work(session_factory(engine))
            finally:
                await engine.dispose()

        return asyncio.run(main())

    @app.command("create", epilog=f"Example:\n\n  {command} create --name partner-x "
                                  f"--scope {scopes[0]}")
    def create(
        name: Annotated[str, typer.Option(help="unique name of the upstream system")],
        scope: Annotated[list[str], typer.Option(
            help=f"repeatable; one of: {', '.join(scopes)}")],
        rate: Annotated[float | None, typer.Option(
            help="requests per second (default: setting)")] = None,
        burst: Annotated[int | None, typer.Option(help="burst size (default: setting)")] = None,
    ) -> None:
        """Register a client and print its API key (shown this once; only its hash is kept)."""
        from warden.shared.apikeys.store import create_client
        from warden.shared.errors import WardenError

        try:
            client_id, key = run(lambda sessions: create_client(
                sessions, name, scope, known_scopes=scopes, rate_per_s=rate, burst=burst))
        except WardenError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"client_id: {client_id}")
        typer.echo(f"api_key:   {key}")
        typer.echo("Store the key now: it cannot be shown again.", err=True)

    @app.command("list", epilog=f"Example:\n\n  {command} list")
    def list_() -> None:
        """Every client with its scopes (keys are never shown, only their first characters)."""
        from warden.shared.apikeys.store import list_clients

        for client in run(list_clients):
            state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
            typer.echo(f"{client.name:24} {client.key_hint}…  {state:18} "
                       f"{' '.join(client.scopes)}")

    @app.command("revoke", epilog=f"Example:\n\n  {command} revoke partner-x")
    def revoke(name: Annotated[str, typer.Argument(help="the client's name")]) -> None:
        """Revoke a client's key (workers that verified it recently accept it up to the
        cache TTL)."""
        from warden.shared.apikeys.store import revoke_client

        if not run(lambda sessions: revoke_client(sessions, name)):
            typer.echo(f"no active client named {name!r}", err=True)
            raise typer.Exit(1)
        typer.echo(f"revoked {name}")

    return app
