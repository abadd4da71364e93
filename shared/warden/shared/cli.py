"""``warden``: the on-call engineer's command line.

Topic setup, migrations, consumer lag, DLQ inspection and replay, outbox backlog,
reviewer tokens. Every command reads the same environment variables as the services.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
import typer

from warden.shared.auth import issue_reviewer_token
from warden.shared.services import SERVICE_NAMES, all_services, service
from warden.shared.settings import ServiceSettings

app = typer.Typer(help="Operate Warden: topics, migrations, lag, DLQs, outbox, tokens.",
                  no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay dead-letter topics.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


def _selected(name: str):
    return all_services() if name == "all" else [service(name)]


@app.command()
def topics(action: Annotated[str, typer.Argument(help="create | describe")] = "create") -> None:
    """Create every Warden topic and its DLQ (partitions, replication and min.insync.replicas
    from settings), or describe them as the brokers have them."""
    from warden.shared.bus.kafka import describe_topics, ensure_topics
    from warden.shared.contracts.topics import all_topics_with_dlq

    settings = ServiceSettings()
    names = [settings.topic(t) for t in all_topics_with_dlq()]
    if action == "describe":
        for topic in asyncio.run(describe_topics(settings.kafka_bootstrap, names)):
            typer.echo(f"{topic.name:40} partitions={topic.partitions} "
                       f"replication={topic.replication} "
                       f"min.insync.replicas={topic.min_insync_replicas}" if topic.exists
                       else f"{topic.name:40} missing")
        return
    if action != "create":
        raise typer.BadParameter(f"unknown action {action!r}: create or describe")
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap, names,
                                        settings.topic_partitions, settings.topic_replication,
                                        settings.min_insync_replicas))
    typer.echo(f"topics: {len(names)} present, {len(created)} created")


@app.command()
def migrate(name: Annotated[str, typer.Argument(help="service name or 'all'")] = "all") -> None:
    """Apply a service's (or every service's) database migrations."""
    from warden.shared.migrations import upgrade_sync

    for info in _selected(name):
        upgrade_sync(info.migrations, info.settings().database_url)
        typer.echo(f"{info.name}: migrated to head")


@app.command()
def schemas() -> None:
    """Regenerate the checked-in JSON Schemas of every event payload."""
    from warden.shared.contracts.schemas import write_schemas

    for path in write_schemas():
        typer.echo(str(path))


@app.command()
def token(reviewer: Annotated[str, typer.Option(help="reviewer id")],
          skill: Annotated[list[str], typer.Option(help="queue skill (repeatable)")] = [],  # noqa: B006
          role: Annotated[list[str], typer.Option(help="role (repeatable)")] = ["reviewer"],  # noqa: B006
          hours: int = 12) -> None:
    """Mint a reviewer/operator bearer token signed with WARDEN_REVIEWER_TOKEN_SECRET."""
    settings = ServiceSettings()
    typer.echo(issue_reviewer_token(settings.reviewer_token_secret, reviewer, skill, role,
                                    ttl=timedelta(hours=hours)))


@app.command()
def outbox() -> None:
    """Outbox backlog per service: events committed but not yet published."""
    async def backlog(info) -> str:
        from warden.shared.db import create_engine

        engine = create_engine(info.settings().database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.text(
                    "SELECT count(*) FILTER (WHERE published_at IS NULL), "
                    "min(created_at) FILTER (WHERE published_at IS NULL) FROM outbox"))).one()
            return f"{info.name:9} unpublished={row[0]} oldest={row[1] or '-'}"
        except Exception as exc:  # noqa: BLE001 - report every service, even unreachable ones
            return f"{info.name:9} unavailable: {exc.__class__.__name__}: {exc}"
        finally:
            await engine.dispose()

    async def run() -> None:
        for info in all_services():
            typer.echo(await backlog(info))

    asyncio.run(run())


@app.command()
def lag() -> None:
    """Consumer lag of every Warden consumer group, per topic."""
    from warden.shared.bus.lag import consumer_lag

    settings = ServiceSettings()
    rows = asyncio.run(consumer_lag(settings.kafka_bootstrap, prefix=f"{settings.topic_prefix}warden-"))
    if not rows:
        typer.echo("no warden consumer groups found")
    for group, topic, lag_total in rows:
        typer.echo(f"{group:40} {topic:32} lag={lag_total}")


@dlq_app.command("inspect")
def dlq_inspect(topic: Annotated[str, typer.Argument(help="source topic, e.g. reports.raw")],
                limit: int = 20) -> None:
    """Show the newest records of ``<topic>.dlq`` with their reasons."""
    from warden.shared.bus.dlq import read_dead_letters

    settings = ServiceSettings()
    for letter in asyncio.run(read_dead_letters(settings, topic, limit)):
        typer.echo(json.dumps(letter, default=str))


@dlq_app.command("replay")
def dlq_replay(topic: Annotated[str, typer.Argument(help="source topic, e.g. reports.raw")],
               limit: Annotated[int, typer.Option(help="replay at most this many")] = 1000,
               group: Annotated[str, typer.Option(help="consumer group remembering progress")] =
               "warden-dlq-replay") -> None:
    """Republish dead letters to their original topic (progress kept in a consumer group)."""
    from warden.shared.bus.dlq import replay_dead_letters

    settings = ServiceSettings()
    count = asyncio.run(replay_dead_letters(settings, topic, limit, group))
    typer.echo(f"replayed {count} record(s) from {settings.topic(topic)}.dlq")


def _mount_service_clis() -> None:
    """Service-specific sub-commands (e.g. ``warden intake clients create``), when present."""
    for name in SERVICE_NAMES:
        try:
            module = importlib.import_module(f"warden.{name}.cli")
        except ModuleNotFoundError:
            continue
        app.add_typer(module.app, name=name)


def main() -> None:
    _mount_service_clis()
    app()


if __name__ == "__main__":
    main()
