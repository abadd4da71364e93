"""``warden audit ...``: the decision service's hash-chained audit log."""

from __future__ import annotations

import asyncio

import typer

from warden.cli.console import example, progress

app = typer.Typer(help="The decision service's hash-chained audit log.", no_args_is_help=True)


@app.command("verify", epilog=example("bin/warden audit verify",
                                      "WARDEN_DECISION_DATABASE_URL=... bin/warden audit verify"))
def verify() -> None:
    """Walk the audit chain; name the first record that does not match (exit 1)."""
    from warden.decision.audit import describe, verify_database
    from warden.decision.settings import DecisionSettings

    with progress() as bar:
        task = bar.add_task("verifying the audit chain", total=None)
        result = asyncio.run(verify_database(
            DecisionSettings().database_url, on_start=lambda total: bar.update(task, total=total),
            on_page=lambda n: bar.advance(task, n)))
    typer.echo(describe(result), err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)
