"""``warden dlq``: what failed and why, and sending it back."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from warden.cli.console import console, example, run
from warden.shared.settings import ServiceSettings

app = typer.Typer(help="Inspect and replay dead-letter topics.", no_args_is_help=True)


@app.command("inspect", epilog=example("bin/warden dlq inspect reports.raw --limit 5"))
def inspect(topic: Annotated[str, typer.Argument(help="source topic, e.g. reports.raw")],
            limit: Annotated[int, typer.Option(help="newest records to show")] = 20) -> None:
    """Show the newest records of ``<topic>.dlq`` with their reasons (one JSON per line)."""
    from warden.shared.bus.dlq import read_dead_letters

    settings = ServiceSettings()
    for letter in run(read_dead_letters(settings, topic, limit)):
        typer.echo(json.dumps(letter, default=str))


@app.command("replay", epilog=example("bin/warden dlq replay reports.raw",
                                      "bin/warden dlq replay cases.routed --limit 10"))
def replay(topic: Annotated[str, typer.Argument(help="source topic, e.g. reports.raw")],
           limit: Annotated[int, typer.Option(help="replay at most this many")] = 1000,
           group: Annotated[str, typer.Option(help="consumer group remembering progress")] =
           "warden-dlq-replay") -> None:
    """Republish dead letters to their original topic (progress kept in a consumer group)."""
    from warden.shared.bus.dlq import replay_dead_letters

    settings = ServiceSettings()
    count = run(replay_dead_letters(settings, topic, limit, group))
    console().print(f"replayed {count} record(s) from {settings.topic(topic)}.dlq")
