"""``warden dlq``: what failed and why, and sending it back."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from warden.cli.console import console, example, progress, run
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


@app.command("replay", epilog=example("bin/warden dlq replay reports.raw --dry-run",
                                      "bin/warden dlq replay cases.routed --reason timeout --limit 10"))
def replay(topic: Annotated[str, typer.Argument(help="source topic, e.g. reports.raw")],
           limit: Annotated[int, typer.Option(help="replay at most this many")] = 1000,
           group: Annotated[str, typer.Option(help="consumer group remembering progress")] =
           "warden-dlq-replay",
           reason: Annotated[str | None, typer.Option(help="only reasons containing this")]
           = None,
           error_type: Annotated[str | None, typer.Option(help="only this error type")] = None,
           key: Annotated[str | None, typer.Option(help="only records with this key")] = None,
           dry_run: Annotated[bool, typer.Option(help="list what would be replayed")] = False,
           ) -> None:
    """Republish dead letters to their original topic with key, headers and timestamp
    (progress kept in a consumer group; letters the filters reject are passed over)."""
    from warden.shared.bus.dlq import letter_filter, replay_dead_letters

    settings = ServiceSettings()
    where = letter_filter(reason, error_type, key) if (reason or error_type or key) else None
    with progress() as bar:
        task = bar.add_task("dry run" if dry_run else "replaying", total=None)
        result = run(replay_dead_letters(settings, topic, limit, group, where=where,
                                         dry_run=dry_run,
                                         on_start=lambda total: bar.update(task, total=total),
                                         on_progress=lambda n: bar.advance(task, n)))
    for letter in result.letters or []:
        typer.echo(json.dumps(letter, default=str))
    verb = "would replay" if dry_run else "replayed"
    console().print(f"{verb} {result.replayed} record(s) from {settings.topic(topic)}.dlq"
                    f" ({result.skipped} passed over)")
