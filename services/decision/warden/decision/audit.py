"""The audit log: an append-only chain of SHA-256 hashes over every step of the record.

Each record's hash commits to its own content and to the previous record's hash, so
changing, inserting or deleting any record breaks every hash after it; verification walks
the chain and names the first record that does not match. Writers take one transaction-scoped
advisory lock before reading the chain's head, so concurrent writers append one after the
other and the chain never forks (the primary key on ``seq`` would refuse a fork anyway).
What a chain alone cannot show is a cut-off tail; ``head`` (seq and hash) is what to anchor
elsewhere (a ticket, a regulator's copy) for that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.decision.models import AuditRecord

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 0x57415544  # "WAUD": one appender at a time per database
_log = AuditRecord.__table__
_LOCK = sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY))
_HEAD = sa.select(_log.c.seq, _log.c.hash).order_by(_log.c.seq.desc()).limit(1)
_INSERT = _log.insert()


# --- pure ---------------------------------------------------------------------------------------

def canonical(value: Any) -> Any:
    """JSON-ready content that reads back from JSONB unchanged (datetimes as ISO text)."""
    return json.loads(json.dumps(value, default=_default, sort_keys=True))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def record_hash(*, seq: int, at: datetime, kind: str, entity_id: str, actor: str | None,
                content: Any, prev_hash: str) -> str:
    body = json.dumps({"seq": seq, "at": at.astimezone(UTC).isoformat(), "kind": kind,
                       "entity_id": entity_id, "actor": actor, "content": content,
                       "prev_hash": prev_hash},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def first_break(records: Iterable[Any], *, previous_seq: int = 0,
                previous_hash: str = GENESIS) -> tuple[Break | None, int, str]:
    """The first record that does not match the chain (or None), and the chain's head."""
    for record in records:
        if record.seq != previous_seq + 1:
            return Break(previous_seq + 1, f"record {previous_seq + 1} is missing (next is "
                                           f"{record.seq})"), previous_seq, previous_hash
        if record.prev_hash != previous_hash:
            return Break(record.seq, "does not follow the record before it (prev_hash "
                                     "differs)"), previous_seq, previous_hash
        expected = record_hash(seq=record.seq, at=record.at, kind=record.kind,
                               entity_id=record.entity_id, actor=record.actor,
                               content=record.content, prev_hash=record.prev_hash)
        if record.hash != expected:
            return Break(record.seq, "its content does not match its hash (changed after it "
                                     "was written)"), previous_seq, previous_hash
        previous_seq, previous_hash = record.seq, record.hash
    return None, previous_seq, previous_hash


# --- I/O ----------------------------------------------------------------------------------------

async def append(session: AsyncSession, *, kind: str, entity_id: Any, actor: str | None,
                 content: dict[str, Any], at: datetime) -> int:
    """Add a record in the caller's transaction (the lock is held until it commits)."""
    await session.execute(_LOCK)
    head = (await session.execute(_HEAD)).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
    content = canonical(content)
    at = at.astimezone(UTC)
    await session.execute(_INSERT, {
        "seq": seq, "at": at, "kind": kind, "entity_id": str(entity_id), "actor": actor,
        "content": content, "prev_hash": prev_hash,
        "hash": record_hash(seq=seq, at=at, kind=kind, entity_id=str(entity_id), actor=actor,
                            content=content, prev_hash=prev_hash)})
    return seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad: Break | None


async def verify(session: AsyncSession, page: int = 1000,
                 on_page: Callable[[int], None] = lambda n: None) -> Verification:
    """Walk the whole chain in order, a page at a time (``on_page`` gets each page's size)."""
    seq, head, checked = 0, GENESIS, 0
    while True:
        rows = (await session.execute(
            sa.select(_log).where(_log.c.seq > seq).order_by(_log.c.seq).limit(page))).all()
        if not rows:
            return Verification(True, checked, seq, head, None)
        broken, seq, head = first_break(rows, previous_seq=seq, previous_hash=head)
        if broken is not None:
            return Verification(False, checked + (broken.seq - rows[0].seq), seq, head, broken)
        checked += len(rows)
        on_page(len(rows))


async def verify_database(database_url: str, *,
                          on_start: Callable[[int], None] = lambda total: None,
                          on_page: Callable[[int], None] = lambda n: None) -> Verification:
    """Verify the chain of the decision database at ``database_url`` (the CLI's entry);
    ``on_start`` gets the number of records, ``on_page`` each page verified."""
    from warden.shared.db import create_engine, session_factory

    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            on_start(await session.scalar(sa.select(sa.func.count()).select_from(_log)) or 0)
            return await verify(session, on_page=on_page)
    finally:
        await engine.dispose()


def describe(result: Verification) -> str:
    if result.ok:
        return (f"OK: {result.records} audit record(s) chain correctly; head is record "
                f"{result.head_seq} ({result.head_hash})")
    return (f"BROKEN at record {result.first_bad.seq}: {result.first_bad.reason} "
            f"({result.records} record(s) before it verified; last good is "
            f"{result.head_seq})")
