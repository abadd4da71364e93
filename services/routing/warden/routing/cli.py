"""``warden routing ...``: routing commands for operators (mounted by the shared CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warden.routing.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy_file

app = typer.Typer(help="Routing service commands.", no_args_is_help=True)
policy_app = typer.Typer(help="The routing policy file.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("check", epilog="Example:\n\n  bin/warden routing policy check deploy/policy.yaml")
def check(path: Annotated[Path, typer.Argument(help="policy YAML to validate")] = DEFAULT_POLICY_PATH
          ) -> None:
    """Validate a policy file the way the service does before using it (exit 1 if invalid)."""
    try:
        loaded = load_policy_file(path)
    except PolicyError as exc:
        typer.echo(f"INVALID {path}", err=True)
        for problem in exc.errors:
            typer.echo(f"  {problem['field']}: {problem['message']}", err=True)
        raise typer.Exit(1) from exc
    policy = loaded.policy
    typer.echo(f"OK {path}: version {policy.version} (digest {loaded.digest}), "
               f"{len(policy.rules)} rules, {len(policy.queues)} queues")
