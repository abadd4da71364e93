"""Throwaway PostgreSQL databases for tests, cloned from a migrated template per service.

Migrating once into a template and cloning it per test keeps every test isolated
(a real database of its own) at the cost of a ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import asyncpg
import sqlalchemy as sa

from warden.shared.migrations import upgrade


def _sqlalchemy_url(admin_dsn: str, database: str) -> str:
    return (sa.make_url(admin_dsn).set(drivername="postgresql+asyncpg", database=database)
            .render_as_string(hide_password=False))


def _migrations_fingerprint(migrations: Path) -> str:
    digest = hashlib.sha1()
    for path in sorted(migrations.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


async def _admin(admin_dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(admin_dsn)


async def ensure_template(admin_dsn: str, service: str, migrations: Path) -> str:
    name = f"warden_tmpl_{service}_{_migrations_fingerprint(migrations)}"
    conn = await _admin(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return name
        building = f"{name}_build_{uuid.uuid4().hex[:6]}"
        await conn.execute(f'CREATE DATABASE "{building}"')
    finally:
        await conn.close()
    await upgrade(migrations, _sqlalchemy_url(admin_dsn, building))
    conn = await _admin(admin_dsn)
    try:
        try:
            await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except asyncpg.DuplicateDatabaseError:
            await conn.execute(f'DROP DATABASE "{building}"')  # another run built it meanwhile
    finally:
        await conn.close()
    return name


async def create_test_database(admin_dsn: str, service: str, migrations: Path) -> tuple[str, str]:
    """Returns (database name, SQLAlchemy asyncpg URL) of a fresh, migrated database."""
    template = await ensure_template(admin_dsn, service, migrations)
    name = f"warden_test_{service}_{uuid.uuid4().hex[:10]}"
    conn = await _admin(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name, _sqlalchemy_url(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str, attempts: int = 30) -> None:
    """Drop it, waiting out a backend we may not terminate (an autovacuum worker, which a
    test that wrote many rows can wake)."""
    conn = await _admin(admin_dsn)
    try:
        for attempt in range(1, attempts + 1):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == attempts:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await conn.close()
