"""Throwaway databases and topics for a benchmark run."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import sqlalchemy as sa

from lib.settings import ADMIN_DSN, KAFKA, MIGRATIONS


async def create_database(service: str) -> tuple[str, str]:
    """A fresh, migrated database for ``service``: (name, SQLAlchemy URL)."""
    import importlib

    from warden.shared.migrations import upgrade

    name = f"warden_bench_{service}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = (sa.make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
           .render_as_string(hide_password=False))
    await upgrade(importlib.import_module(MIGRATIONS[service]).MIGRATIONS, url)
    return name, url


async def drop_database(name: str, attempts: int = 20) -> None:
    """Drop it, waiting out a backend we may not terminate (an autovacuum worker)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        for attempt in range(attempts):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == attempts - 1:
                    print(f"  (could not drop {name}; drop it by hand)")
                    return
                await asyncio.sleep(1)
    finally:
        await conn.close()


async def scalar(url: str, sql: str) -> object:
    conn = await asyncpg.connect(sa.make_url(url).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def create_topics(prefix: str, partitions: int = 3) -> list[str]:
    from warden.shared.bus.kafka import ensure_topics
    from warden.shared.contracts.topics import all_topics_with_dlq

    names = [f"{prefix}{t}" for t in all_topics_with_dlq()]
    await ensure_topics(KAFKA, names, partitions, 1)
    return names


async def delete_topics(names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except Exception as exc:  # noqa: BLE001 - clean-up is best effort
        print(f"  (could not delete bench topics: {exc!r})")
    finally:
        await admin.close()
