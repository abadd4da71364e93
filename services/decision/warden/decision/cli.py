"""``warden decision ...``: the upstream clients that file appeals, and the catalogues."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warden.decision.catalogue import (
    DEFAULT_ACTIONS_PATH,
    DEFAULT_POLICIES_PATH,
    CatalogueError,
    load_catalogue,
)
from warden.decision.consumers import SCOPES
from warden.decision.settings import DecisionSettings
from warden.shared.apikeys.cli import clients_cli

app = typer.Typer(help="Decision service: appeal clients and catalogues.", no_args_is_help=True)
app.add_typer(clients_cli(DecisionSettings, SCOPES), name="clients")
catalogue_app = typer.Typer(help="The action and policy catalogues.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")


@catalogue_app.command("check", epilog="Example:\n\n  bin/warden decision catalogue check")
def check(actions: Annotated[Path, typer.Option(help="action catalogue YAML")] =
          DEFAULT_ACTIONS_PATH,
          policies: Annotated[Path, typer.Option(help="policy catalogue YAML")] =
          DEFAULT_POLICIES_PATH) -> None:
    """Validate the catalogues the way the service does at start-up (exit 1 if invalid)."""
    try:
        loaded = load_catalogue(actions, policies)
    except CatalogueError as exc:
        typer.echo("INVALID", err=True)
        for problem in exc.errors:
            typer.echo(f"  {problem['field']}: {problem['message']}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"OK: {len(loaded.actions)} actions (version {loaded.actions_version}), "
               f"{len(loaded.policies)} policies (version {loaded.policies_version})")
