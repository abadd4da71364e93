"""Batch statements keep one SQL text whatever the batch's length, against real PostgreSQL: an
``ArrayInsert`` is prepared once per connection (a multi-row VALUES would be a new statement,
parse and plan for each length) and returns typed rows, the inserted ones only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from warden.decision.app import MIGRATIONS
from warden.shared.db import ArrayInsert, create_engine, session_factory

_metadata = sa.MetaData()
_items = sa.Table("items", _metadata,
                  sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("doc", JSONB, nullable=False),
                  sa.Column("at", sa.DateTime(timezone=True), nullable=False))


async def test_an_array_insert_is_prepared_once_and_returns_only_what_it_inserted(
        make_database):
    engine = create_engine(await make_database("decision", MIGRATIONS))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
        insert = ArrayInsert(_items, ["id", "doc", "at"], returning=("id", "at"),
                             then="ON CONFLICT (id) DO NOTHING")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        returned = []
        async with session_factory(engine)() as session, session.begin():
            for ids in ([1], [2, 3], [3, 4, 5], [6, 1, 7, 8]):  # 3 and 1 are there already
                rows = [{"id": i, "doc": {"n": i}, "at": start + timedelta(minutes=i)}
                        for i in ids]
                returned.append([tuple(row) for row in await insert.execute(session, rows)])
            prepared = await session.scalar(sa.text(
                "SELECT count(*) FROM pg_prepared_statements "
                "WHERE statement LIKE 'INSERT INTO items %'"))
            docs = (await session.execute(sa.text("SELECT id, doc FROM items ORDER BY id"))).all()
        assert returned == [
            [(1, start + timedelta(minutes=1))],
            [(2, start + timedelta(minutes=2)), (3, start + timedelta(minutes=3))],
            [(4, start + timedelta(minutes=4)), (5, start + timedelta(minutes=5))],
            [(6, start + timedelta(minutes=6)), (7, start + timedelta(minutes=7)),
             (8, start + timedelta(minutes=8))]]
        assert prepared == 1
        assert [(i, doc) for i, doc in docs] == [(i, {"n": i}) for i in range(1, 9)]
    finally:
        await engine.dispose()
