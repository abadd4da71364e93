"""Database plumbing shared by the services: engine, sessions, outbox and inbox tables."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


# Deadlock, serialization failure, lock not available: the same work may well succeed again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
# The server is shutting down, starting up, or out of connection slots.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def sqlstate_of(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_database_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached or lost the connection (an outage, not a bad query)."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa.exc.InterfaceError, sa.exc.OperationalError)):
        return True
    if sqlstate_of(exc) in UNAVAILABLE_SQLSTATES:
        return True
    if isinstance(getattr(exc, "orig", exc), (asyncpg.InterfaceError,
                                               asyncpg.InternalClientError)):
        # The client's side of the connection is not usable (its protocol still busy after
        # the server went away mid-statement, or closed): not the statement's fault.
        return True
    return exc.__class__.__module__.startswith("asyncpg") and "Connection" in type(exc).__name__


def is_transient_database_error(exc: BaseException) -> bool:
    """Worth retrying later: an outage, or a conflict PostgreSQL resolved by aborting us."""
    return is_database_unreachable(exc) or sqlstate_of(exc) in RETRYABLE_SQLSTATES


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    # No pre-ping: it costs a round trip on every checkout (a tenth of intake's time per
    # report). A connection the database dropped fails its first statement instead; that
    # invalidates the whole pool, the request gets a 503 (a consumer retries), and the next
    # checkout connects afresh.
    # hide_parameters: bound values (report text, reporter emails) never appear in the
    # messages of SQL errors, hence never in logged tracebacks or DLQ headers.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                               hide_parameters=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def once_per_transaction(session: AsyncSession, key: str):
    """(the current transaction, what was kept under ``key`` for it, or None): for what one
    transaction does once however many events or rows a run brings (keep it with
    ``session.info[key] = (transaction, value)``)."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(key)
    return transaction, (kept[1] if kept and transaction is not None
                         and kept[0] is transaction else None)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain libpq-style DSN asyncpg wants (LISTEN/NOTIFY uses a raw connection)."""
    return sa.make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


class RawPool:
    """A plain asyncpg pool beside the SQLAlchemy engine, for the one or two statements of a
    hot path that are worth the round trip alone (no session, no greenlet hop, no ORM).

    A :class:`~warden.shared.app.Worker`: created when the service starts, closed when it
    stops. Its connections are opened on demand (``min_size`` 0) and kept up to ``size``, so
    a burst of requests waits for a connection instead of opening and closing new ones.
    Errors are asyncpg's own; ``is_transient_database_error`` knows them.

    Its users run single statements that change no session state (no ``SET``, ``LISTEN``,
    cursors or session-level advisory locks), so a connection goes back to the pool without
    asyncpg's reset query — a round trip per use (≈ 6 % of intake's samples). An open
    transaction is still ended on release (asyncpg does that before calling ``reset``).
    """

    def __init__(self, sqlalchemy_url: str, size: int) -> None:
        self._dsn = asyncpg_dsn(sqlalchemy_url)
        self._size = size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=0, max_size=self._size,
                                               reset=_no_session_state)

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """``async with pool.acquire() as connection``: a connection of the pool.

        A connection whose use ended in anything but an ordinary statement error (the server
        going away, a lost socket, a cancelled call) is closed, not pooled again: without the
        reset query nothing else would notice that its protocol is still mid-operation, and
        the next statement on it would fail with "another operation is in progress" (seen
        once during a PostgreSQL restart, as a 500)."""
        if self._pool is None:
            raise RuntimeError("the raw pool is not started")
        async with self._pool.acquire() as connection:
            try:
                yield connection
            except BaseException as exc:
                if not isinstance(exc, asyncpg.PostgresError) or is_database_unreachable(exc):
                    connection.terminate()
                raise


async def _no_session_state(connection: asyncpg.Connection) -> None:
    """``RawPool``'s reset: nothing to undo (see its docstring)."""


def utc_column(nullable: bool = False, **kwargs: Any) -> sa.Column:
    return sa.Column(sa.DateTime(timezone=True), nullable=nullable, **kwargs)


def jsonb_column(nullable: bool = False, **kwargs: Any) -> sa.Column:
    return sa.Column(JSONB, nullable=nullable, **kwargs)


class ArrayInsert:
    """Many rows into ``table`` as ONE statement: one array parameter per column, unnested in
    the rows' order (a sequence or identity column numbers them in that order). An
    executemany is one statement per row on both sides of the connection; this is one SQL
    text whatever the batch's length. ``where`` filters the unnested rows (a condition on
    other parameters is evaluated once, before the first row is numbered); ``then`` follows
    the SELECT (``ON CONFLICT ..``); ``returning`` names the columns to return, typed as the
    table's (an executemany with ``RETURNING`` would be a multi-row VALUES instead, a new SQL
    text, parse and prepared statement for every length of batch)."""

    def __init__(self, table: sa.Table, columns: Sequence[str], *, where: str = "",
                 then: str = "", returning: Sequence[str] = ()) -> None:
        dialect = postgresql.dialect()
        quote = dialect.identifier_preparer.quote
        self._columns = tuple(columns)
        self._json = frozenset(c for c in columns if isinstance(table.c[c].type, sa.JSON))
        names = ", ".join(quote(c) for c in columns)
        arrays = ", ".join(
            f"CAST(:{c} AS {'text' if c in self._json else table.c[c].type.compile(dialect)}[])"
            for c in columns)
        values = ", ".join(f"CAST({quote(c)} AS jsonb)" if c in self._json else quote(c)
                           for c in columns)
        returned = ", ".join(quote(c) for c in returning)
        statement = sa.text(
            f"INSERT INTO {quote(table.name)} ({names}) SELECT {values} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS batch({names}, n) {f'WHERE {where} ' if where else ''}"
            f"ORDER BY n {then}{f' RETURNING {returned}' if returning else ''}")
        self._returning = bool(returning)
        self.statement = (statement.columns(*(table.c[c] for c in returning)) if returning
                          else statement)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> dict[str, list]:
        # JSON as SQLAlchemy's JSON type binds it (None too: the JSON ``null``).
        return {c: [json.dumps(r[c]) for r in rows] if c in self._json
                else [r[c] for r in rows] for c in self._columns}

    async def execute(self, session: AsyncSession, rows: Sequence[dict[str, Any]],
                      **others: Any) -> Sequence[sa.Row]:
        """``others``: the parameters of ``where`` and ``then``. The returned rows (none
        without ``returning``)."""
        if not rows:
            return []
        result = await session.execute(self.statement, {**self.parameters(rows), **others})
        return result.all() if self._returning else []


class OutboxRecord(SQLModel, table=True):
    """An event waiting to be published, written in the same transaction as its state change."""

    __tablename__ = "outbox"

    seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(),
                                                              primary_key=True))
    event_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    topic: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    key: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    value: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    headers: dict = Field(default_factory=dict, sa_column=jsonb_column())
    created_at: datetime = Field(sa_column=utc_column(server_default=sa.func.now()))
    published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class InboxRecord(SQLModel, table=True):
    """An event this service has already processed (consumer idempotency)."""

    __tablename__ = "inbox"

    consumer: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    event_id: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    topic: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    processed_at: datetime = Field(sa_column=utc_column(server_default=sa.func.now()))


def create_messaging_tables(op) -> None:
    """Alembic helper: the outbox and inbox every service owns (used by each first migration)."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("outbox_unpublished", "outbox", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )


def drop_messaging_tables(op) -> None:
    op.drop_table("inbox")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
