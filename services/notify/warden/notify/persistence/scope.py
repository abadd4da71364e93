"""What one transaction does once (read the endpoints, wake the delivery workers), however
many events a batch of consumed records brings."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession


def once_per_transaction(session: AsyncSession, key: str):
    """(the current transaction, what was kept under ``key`` for it, or None)."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(key)
    return transaction, (kept[1] if kept and transaction is not None
                         and kept[0] is transaction else None)
