"""Registered clients in the service's database: create, look up by key or name, revoke."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.apikeys.keys import (
    ClientIdentity,
    generate_api_key,
    hash_api_key,
    unknown_scopes,
)
from warden.shared.apikeys.models import ApiClient
from warden.shared.clock import utcnow
from warden.shared.errors import Conflict, InvalidInput

DEV_CLIENT_NAME = "local-dev"


def identity(client: ApiClient) -> ClientIdentity:
    return ClientIdentity(id=client.id, name=client.name, scopes=frozenset(client.scopes),
                          rate_per_s=client.rate_per_s, burst=client.burst)


def check_scopes(scopes: Iterable[str], known: Iterable[str]) -> None:
    known = tuple(known)
    unknown = unknown_scopes(scopes, known)
    if unknown:
        raise InvalidInput(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(known)}")


async def create_client(sessions: async_sessionmaker[AsyncSession], name: str,
                        scopes: list[str], *, known_scopes: Iterable[str],
                        rate_per_s: float | None = None,
                        burst: int | None = None) -> tuple[uuid.UUID, str]:
    """Register a client; returns its id and its API key (shown once, stored only hashed)."""
    check_scopes(scopes, known_scopes)
    key = generate_api_key()
    client = ApiClient(name=name, key_hash=hash_api_key(key), key_hint=key[:8],
                       scopes=sorted(set(scopes)), rate_per_s=rate_per_s, burst=burst)
    try:
        async with sessions() as session, session.begin():
            session.add(client)
    except IntegrityError as exc:
        raise Conflict(f"a client named {name!r} already exists") from exc
    return client.id, key


async def ensure_dev_client(sessions: async_sessionmaker[AsyncSession], api_key: str,
                            scopes: Iterable[str]) -> uuid.UUID:
    """The local development client: the given scopes, the configured key (idempotent)."""
    table = ApiClient.__table__
    statement = insert(table).values(id=uuid.uuid4(), name=DEV_CLIENT_NAME,
                                     key_hash=hash_api_key(api_key), key_hint=api_key[:8],
                                     scopes=sorted(set(scopes)))
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"key_hash": statement.excluded.key_hash, "key_hint": statement.excluded.key_hint,
              "scopes": statement.excluded.scopes, "revoked_at": None},
    ).returning(table.c.id)
    async with sessions() as session, session.begin():
        return (await session.execute(statement)).scalar_one()


async def client_for_key_hash(session: AsyncSession, key_hash: str) -> ClientIdentity | None:
    """The active client holding the key with this hash (the hash is the lookup index)."""
    row = (await session.exec(select(ApiClient).where(ApiClient.key_hash == key_hash,
                                                      ApiClient.revoked_at.is_(None)))).first()
    return identity(row) if row else None


async def client_and_key_hash_by_name(session: AsyncSession, name: str
                                      ) -> tuple[ClientIdentity, str] | None:
    """The active client of this name and the hash of its key (to check what it signed)."""
    row = (await session.exec(select(ApiClient).where(ApiClient.name == name,
                                                      ApiClient.revoked_at.is_(None)))).first()
    return (identity(row), row.key_hash) if row else None


async def list_clients(sessions: async_sessionmaker[AsyncSession]) -> list[ApiClient]:
    async with sessions() as session:
        return list((await session.exec(select(ApiClient).order_by(ApiClient.name))).all())


async def revoke_client(sessions: async_sessionmaker[AsyncSession], name: str) -> bool:
    table = ApiClient.__table__
    async with sessions() as session, session.begin():
        result = await session.execute(
            sa.update(table).where(table.c.name == name, table.c.revoked_at.is_(None))
            .values(revoked_at=utcnow()))
    return result.rowcount > 0
