"""Everyday commands: topics, migrations, schemas, tokens, outbox backlog, consumer lag."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table

from warden.cli.console import console, example, fail, run
from warden.cli.services import all_services, selected
from warden.shared.settings import ServiceSettings

app = typer.Typer()


@app.command(epilog=example("bin/warden topics", "bin/warden topics describe",
                            "WARDEN_TOPIC_PARTITIONS=6 bin/warden topics"))
def topics(action: Annotated[str, typer.Argument(help="create | describe")] = "create") -> None:
    """Create every Warden topic and its DLQ (partitions, replication and min.insync.replicas
    from settings), or describe them as the brokers have them."""
    from warden.shared.bus.kafka import describe_topics, ensure_topics
    from warden.shared.contracts.topics import all_topics_with_dlq

    settings = ServiceSettings()
    names = [settings.topic(t) for t in all_topics_with_dlq()]
    if action == "describe":
        for topic in run(describe_topics(settings.kafka_bootstrap, names)):
            typer.echo(f"{topic.name:40} partitions={topic.partitions} "
                       f"replication={topic.replication} "
                       f"min.insync.replicas={topic.min_insync_replicas}" if topic.exists
                       else f"{topic.name:40} missing")
        return
    if action != "create":
        raise typer.BadParameter(f"unknown action {action!r}: create or describe")
    created = run(ensure_topics(settings.kafka_bootstrap, names, settings.topic_partitions,
                                settings.topic_replication, settings.min_insync_replicas))
    console().print(f"topics: {len(names)} present, {len(created)} created")


@app.command(epilog=example("bin/warden migrate all", "bin/warden migrate routing"))
def migrate(name: Annotated[str, typer.Argument(help="service name or 'all'")] = "all") -> None:
    """Apply a service's (or every service's) database migrations."""
    from warden.shared.migrations import upgrade_sync

    try:
        services = selected(name)
    except ValueError as exc:
        fail(str(exc))
    for info in services:
        upgrade_sync(info.migrations, info.settings().database_url)
        console().print(f"{info.name}: migrated to head")


@app.command(epilog=example("bin/warden schemas"))
def schemas() -> None:
    """Regenerate the checked-in JSON Schemas of every event payload and the AsyncAPI
    document of every topic."""
    from warden.shared.contracts import asyncapi
    from warden.shared.contracts.schemas import write_schemas

    for path in write_schemas():
        console().print(str(path))
    console().print(str(asyncapi.write()))


@app.command(epilog=example("bin/warden token --reviewer alice --skill child_safety",
                            "bin/warden token --reviewer oncall --role operator --hours 1",
                            "bin/warden token --reviewer lee --role lead --audience routing"))
def token(reviewer: Annotated[str, typer.Option(help="reviewer id")],
          skill: Annotated[list[str], typer.Option(help="queue skill (repeatable)")] = [],  # noqa: B006
          role: Annotated[list[str], typer.Option(help="role (repeatable)")] = ["reviewer"],  # noqa: B006
          audience: Annotated[list[str], typer.Option(
              help="service the token is for (repeatable; default: all four)")] = [],  # noqa: B006
          kid: Annotated[str | None, typer.Option(
              help="key id to sign with (default: WARDEN_REVIEWER_TOKEN_KID)")] = None,
          hours: Annotated[int, typer.Option(help="validity in hours")] = 12) -> None:
    """Mint a reviewer/operator bearer token signed with WARDEN_REVIEWER_TOKEN_SECRET."""
    from warden.shared.auth import SERVICE_NAMES, issue_reviewer_token

    settings = ServiceSettings()
    unknown = sorted(set(audience) - set(SERVICE_NAMES))
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {', '.join(unknown)}; "
                                 f"one of {', '.join(SERVICE_NAMES)}", param_hint="--audience")
    kid = kid or settings.reviewer_token_kid
    keys = settings.reviewer_token_keys()
    if kid not in keys:
        raise typer.BadParameter(f"no key with id {kid!r} (known: {', '.join(sorted(keys))})",
                                 param_hint="--kid")
    if not settings.dev_mode and settings.insecure_settings():
        typer.echo("warning: signing with a development key; production services refuse it",
                   err=True)
    typer.echo(issue_reviewer_token(keys[kid], reviewer, skill, role, ttl=timedelta(hours=hours),
                                    kid=kid, services=audience or SERVICE_NAMES))


async def _outbox_backlog(info) -> tuple[int, object]:
    from warden.shared.db import create_engine

    engine = create_engine(info.settings().database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(sa.text(
                "SELECT count(*) FILTER (WHERE published_at IS NULL), "
                "min(created_at) FILTER (WHERE published_at IS NULL) FROM outbox"))).one()
        return row[0], row[1]
    finally:
        await engine.dispose()


@app.command(epilog=example("bin/warden outbox"))
def outbox() -> None:
    """Outbox backlog per service: events committed but not yet published (exit 1 if a database is unreachable)."""  # noqa: E501
    table = Table("service", "unpublished", "oldest", title="Outbox backlog")
    failed = False
    for info in all_services():
        try:
            count, oldest = run(_outbox_backlog(info))
            table.add_row(info.name, f"unpublished={count}", str(oldest or "-"))
        except Exception as exc:  # noqa: BLE001 - report every service, even unreachable ones
            failed = True
            table.add_row(info.name, "[red]unavailable[/]", f"{exc.__class__.__name__}: {exc}")
    console().print(table)
    if failed:
        raise typer.Exit(1)


@app.command(epilog=example("bin/warden lag"))
def lag() -> None:
    """Consumer lag of every Warden consumer group, per topic."""
    from warden.shared.bus.lag import consumer_lag

    settings = ServiceSettings()
    rows = run(consumer_lag(settings.kafka_bootstrap, prefix=f"{settings.topic_prefix}warden-"))
    if not rows:
        console().print("no warden consumer groups found")
        return
    table = Table("group", "topic", "lag", title="Consumer lag")
    for group, topic, lag_total in rows:
        table.add_row(group, topic, str(lag_total))
    console().print(table)
