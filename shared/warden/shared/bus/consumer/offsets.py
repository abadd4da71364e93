"""Offsets a consumer has settled but not yet committed.

They are committed together at most every ``consumer_commit_interval_s`` instead of after
every fetch. When reports are few a fetch holds one record, and a commit per fetch is a
request to the group coordinator and a write to its log for every record and consumer group:
most of what the broker did at a few dozen reports a second. Deferring is safe because of the
inbox: a consumer that dies re-reads at most one interval of records it had handled, and
their handlers skip them as duplicates. A partition a rebalance takes away has its settled
offset committed before it goes (``on_partitions_revoked``: the new owner starts from it),
and ``flush`` commits what is left when the consumer stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from warden.shared.backoff import backoff_delay
from warden.shared.observability import BROKER_LOSS, get_logger

log = get_logger(__name__)

# How long a revocation or a stop waits for its commit: past it, the partition's next owner
# re-reads from the previous commit (harmless, see the module doc) rather than a rebalance or
# a shutdown hanging on an unreachable coordinator.
_PARTING_COMMIT_TIMEOUT_S = 5.0


class SettledOffsets(ConsumerRebalanceListener):
    """The next offset to commit per partition, and when the oldest uncommitted one is due."""

    def __init__(self, consumer: AIOKafkaConsumer, consumer_id: str, interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer = consumer
        self._consumer_id = consumer_id
        self._interval_s = interval_s
        self._clock = clock
        self._pending: dict[TopicPartition, int] = {}
        self._due: float | None = None

    def settled(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that everything before each offset is handled (and may be committed)."""
        self._pending.update(offsets)
        if self._due is None:
            self._due = self._clock() + self._interval_s

    def due_now(self) -> None:
        """Commit with the fetch being settled (a record of it went to the dead-letter topic)."""
        self._due = self._clock()

    def seconds_until_due(self, otherwise: float) -> float:
        """How long the consumer may wait for records before it must commit (``otherwise``
        when nothing is pending)."""
        if self._due is None:
            return otherwise
        return max(0.0, min(otherwise, self._due - self._clock()))

    async def commit_if_due(self) -> None:
        if self._due is not None and self._clock() >= self._due:
            await self._commit_retrying(self._take())

    async def flush(self) -> None:
        """Commit everything pending, once, within a bounded wait (the consumer is stopping)."""
        await self._parting_commit(self._take())

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        gone = set(revoked)
        await self._parting_commit(self._take(lambda tp: tp in gone))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Nothing to do: a partition starts from its group's committed offset."""

    def _take(self, which: Callable[[TopicPartition], bool] = lambda tp: True,
              ) -> dict[TopicPartition, int]:
        taken = {tp: offset for tp, offset in self._pending.items() if which(tp)}
        for tp in taken:
            del self._pending[tp]
        if not self._pending:
            self._due = None
        return taken

    async def _parting_commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), _PARTING_COMMIT_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            # Typically a rebalance already under way: the next owner re-reads these records
            # and the inbox skips them.
            log.info("commit_before_parting_failed", consumer=self._consumer_id,
                     partitions=[str(tp) for tp in offsets], error=repr(exc))

    async def _commit_retrying(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        for attempt in range(1, 1000):
            try:
                await self._consumer.commit(offsets)
                BROKER_LOSS.recovered()
                return
            except KafkaError as exc:
                # A rebalance may have moved partitions away: their new owner re-reads from
                # the last commit and the inbox makes the re-read harmless.
                kept = self._consumer.assignment()
                for tp in offsets:
                    if tp not in kept:
                        log.info("commit_skipped_partition_revoked", partition=str(tp))
                offsets = {tp: offset for tp, offset in offsets.items() if tp in kept}
                if not offsets:
                    return
                log.warning("commit_failed", error=repr(exc), attempt=attempt)
                await asyncio.sleep(backoff_delay(attempt, initial=0.2, maximum=5))
