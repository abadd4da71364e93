"""Consumer runner: at-least-once delivery made effectively-once by the inbox.

For every record: parse it, then in ONE database transaction record its event id in
the inbox (a duplicate is skipped) and run the handler; only after that commit is the
Kafka offset committed (with the others settled since, at most every
``consumer_commit_interval_s``: ``offsets.py``). Failures are classified once, here:

* ``InvalidMessage`` and other non-retryable ``WardenError`` -> dead-letter topic at once;
* retryable errors (``TransientError``, write conflicts, unexpected exceptions) -> retried
  with backoff up to ``consumer_max_attempts``, then the dead-letter topic;
* the database or Kafka being unreachable -> retried until they are back (the partition
  waits: sending everything to the DLQ during an outage would be worse).

Throughput: the records of a fetch (its partitions one after the other, each in its order)
are first tried together in one transaction (``consumer_batch_size`` at most), which costs one
commit instead of one per record. Each record keeps its own inbox row and starts with an empty
identity map, so the outcome is the one of handling them one after another. If anything in
the batch fails, the whole batch is rolled back and its records are handled one by one as
above, so the classification never changes.

A handler may instead take a whole run at once (``batch_handlers``: set-based SQL, a few
statements per run rather than several per record): the runner claims the run's event ids in
the inbox with one statement and hands the handler the records it claimed, in order. It is
also called with a single record on the one-by-one path, so it must not assume more.
"""

from warden.shared.bus.consumer.messages import (
    BatchHandler,
    Delivery,
    Handler,
    Incoming,
    Parser,
    parse_cloudevent,
)
from warden.shared.bus.consumer.runner import ConsumerRunner

__all__ = ["BatchHandler", "ConsumerRunner", "Delivery", "Handler", "Incoming", "Parser",
           "parse_cloudevent"]
