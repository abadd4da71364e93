"""Transactional outbox: events are rows written with the state change, then relayed to Kafka.

``Outbox.emit`` adds the row in the caller's transaction, and the relay wakes the moment the
transaction commits (it never sees an uncommitted event; see ``warden.shared.wakeup
.CommitWake``). The relay also polls, so a missed wake-up only delays, never loses, an event.

Order per key is commit order. The relay publishes in ``seq`` order, and ``seq`` is taken
at insert time; two transactions staging events of one key could otherwise commit in the
other order than they inserted (the first to insert commits last), and the events would
go out in insert order, contradicting the state the database ended with. So staging an
event first takes a transaction-scoped advisory lock on its key: a second transaction on
the same key waits until the first commits or rolls back, hence inserts (gets its ``seq``)
after it. Relay-side alternatives (publishing only rows older than every transaction in
flight, by ``pg_snapshot_xmin``) need an xid column in every service's outbox and hold
back every key behind the slowest transaction; the lock costs only writers of the same
subject, which mostly contend on the same rows anyway. Two transactions staging the same
two keys in opposite orders can deadlock; PostgreSQL aborts one (SQLSTATE 40P01), which
the consumers retry and the HTTP edge answers with a 503, like any such conflict.
"""

from warden.shared.bus.outbox.relay import RELAY_LOCK_KEY, OutboxRelay, PublishFailed
from warden.shared.bus.outbox.staging import (
    KEY_LOCK_SPACE,
    NOTIFY_CHANNEL,
    Outbox,
    kafka_headers,
    stage_from,
)

__all__ = ["KEY_LOCK_SPACE", "NOTIFY_CHANNEL", "RELAY_LOCK_KEY", "Outbox", "OutboxRelay",
           "PublishFailed", "kafka_headers", "stage_from"]
