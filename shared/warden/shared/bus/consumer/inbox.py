"""The inbox: the event ids a consumer has handled, claimed in the handler's transaction,
so a record delivered again (at-least-once) has its effect once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.bus.consumer.messages import Incoming
from warden.shared.db import InboxRecord

_inbox = InboxRecord.__table__
_CLAIM_ONE = insert(_inbox).on_conflict_do_nothing().returning(_inbox.c.event_id)
# A run's event ids (all of one topic) in one statement of one SQL text.
_run_ids = (sa.func.unnest(sa.bindparam("event_ids", type_=sa.ARRAY(sa.Text)))
            .table_valued("event_id").render_derived())
_CLAIM_RUN = (
    insert(_inbox)
    .from_select(["consumer", "event_id", "topic"],
                 sa.select(sa.bindparam("consumer", type_=sa.Text), _run_ids.c.event_id,
                           sa.bindparam("topic", type_=sa.Text)))
    .on_conflict_do_nothing().returning(_inbox.c.event_id))


async def claim_in_inbox(session: AsyncSession, consumer: str, message: Incoming) -> bool:
    """True if this consumer had not handled the event yet (it is claimed now)."""
    inserted = await session.execute(_CLAIM_ONE, {
        "consumer": consumer, "event_id": message.event_id, "topic": message.record.topic})
    return inserted.first() is not None


async def claim_run_in_inbox(session: AsyncSession, consumer: str,
                             messages: list[Incoming]) -> set[str]:
    """The event ids of a run (one topic) not handled yet, claimed with one statement."""
    topic = messages[0].record.topic
    event_ids = list(dict.fromkeys(m.event_id for m in messages))
    assert all(m.record.topic == topic for m in messages), "a run is of one topic"
    inserted = await session.execute(_CLAIM_RUN, {
        "consumer": consumer, "topic": topic, "event_ids": event_ids})
    return {row[0] for row in inserted}
