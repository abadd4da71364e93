"""``warden doctor``: is everything the system needs there, reachable and as configured?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import httpx
import sqlalchemy as sa
import typer
from rich.table import Table

from warden.cli.console import console, example, fail, run
from warden.cli.services import ServiceInfo, all_services
from warden.shared.settings import ServiceSettings

app = typer.Typer()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def check_kafka_and_topics(settings: ServiceSettings, timeout: float) -> list[Check]:
    """The broker answers, and every topic exists with the configured partitions/replication."""
    from aiokafka.admin import AIOKafkaAdminClient

    from warden.shared.contracts.topics import all_topics_with_dlq

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                client_id="warden-doctor", request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return [Check("kafka", False, f"{settings.kafka_bootstrap}: {type(exc).__name__}: {exc}")]
    try:
        expected = [settings.topic(t) for t in all_topics_with_dlq()]
        existing = set(await admin.list_topics())
        checks = [Check("kafka", True, f"{settings.kafka_bootstrap}: {len(existing)} topics")]
        present = [t for t in expected if t in existing]
        described = {d["topic"]: d for d in await admin.describe_topics(present)} if present else {}
        for topic in expected:
            checks.append(_topic_check(topic, described.get(topic), settings))
        return checks
    finally:
        await admin.close()


def _topic_check(topic: str, described: dict | None, settings: ServiceSettings) -> Check:
    if described is None or described.get("error_code"):
        return Check(f"topic {topic}", False, "missing (run: bin/warden topics)")
    partitions = described["partitions"]
    replication = min((len(p["replicas"]) for p in partitions), default=0)
    problems = []
    if len(partitions) != settings.topic_partitions:
        problems.append(f"{len(partitions)} partitions, configured {settings.topic_partitions}")
    if replication != settings.topic_replication:
        problems.append(f"replication {replication}, configured {settings.topic_replication}")
    if problems:
        return Check(f"topic {topic}", False, "; ".join(problems))
    return Check(f"topic {topic}", True, f"{len(partitions)} partitions, replication {replication}")


async def check_database(info: ServiceInfo, timeout: float) -> Check:
    """The service's database answers and its schema is at the newest migration."""
    from alembic.script import ScriptDirectory

    from warden.shared.db import create_engine
    from warden.shared.migrations import alembic_config

    url = info.settings().database_url
    heads = set(ScriptDirectory.from_config(alembic_config(info.migrations, url)).get_heads())
    engine = create_engine(url, pool_size=1)
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            has_table = await conn.scalar(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL"))
            current = set((await conn.scalars(sa.text("SELECT version_num FROM alembic_version"))
                           ).all()) if has_table else set()
    except Exception as exc:  # noqa: BLE001 - unreachable is the finding
        return Check(f"{info.name} database", False, f"{type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()
    if current != heads:
        return Check(f"{info.name} database", False,
                     f"migrations at {sorted(current) or 'none'}, head is {sorted(heads)} "
                     f"(run: bin/warden migrate {info.name})")
    return Check(f"{info.name} database", True, f"reachable, migrations at head {sorted(heads)}")


async def check_service(name: str, base_url: str, timeout: float) -> Check:
    """The running service says it is ready (database, Kafka, consumers assigned)."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{base_url}/readyz")
    except httpx.HTTPError as exc:
        return Check(f"{name} service", False, f"{base_url}: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        failing = [k for k, v in response.json().get("checks", {}).items() if not v.get("ok")]
        return Check(f"{name} service", False,
                     f"{base_url}/readyz {response.status_code}: not ready: {', '.join(failing)}")
    return Check(f"{name} service", True, f"{base_url}/readyz ready")


def _parse_urls(pairs: list[str]) -> dict[str, str]:
    urls = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not url:
            fail(f"--url wants NAME=URL, got {pair!r}")
        urls[name] = url.rstrip("/")
    return urls


async def diagnose(*, http: bool, urls: dict[str, str], timeout: float) -> list[Check]:
    settings = ServiceSettings()
    services = all_services()
    checks = await check_kafka_and_topics(settings, timeout)
    checks += await asyncio.gather(*(check_database(info, timeout) for info in services))
    if http:
        checks += await asyncio.gather(*(
            check_service(info.name, urls.get(info.name) or info.base_url(), timeout)
            for info in services))
    return checks


@app.command(epilog=example("bin/warden doctor",
                            "bin/warden doctor --no-http   # before the services are started",
                            "bin/warden doctor --url routing=http://routing:8002"))
def doctor(http: Annotated[bool, typer.Option(help="also ask every service's /readyz")] = True,
           url: Annotated[list[str], typer.Option(
               help="NAME=URL where a service answers (default: its host/port settings)")] = [],  # noqa: B006
           timeout: Annotated[float, typer.Option(help="seconds per check")] = 5.0) -> None:
    """Check Kafka, every topic (partitions, replication), each database and its migrations, and every running service; exit 1 if anything is wrong."""  # noqa: E501
    checks = run(diagnose(http=http, urls=_parse_urls(url), timeout=timeout))
    table = Table("check", "", "detail", title="Warden doctor")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[bold red]FAIL[/]",
                      check.detail)
    console().print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        fail(f"{len(failed)} of {len(checks)} checks failed: "
             + ", ".join(c.name for c in failed))
    console().print(f"all {len(checks)} checks passed")
