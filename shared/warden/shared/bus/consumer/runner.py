"""The consumer runner: fetch, handle in the database, then commit the offsets (see the
package's docstring for the guarantees and the failure classes). Runs of records are settled
together here; one record at a time (retries, the DLQ) in ``records.py``; when offsets are
committed in ``offsets.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.bus.consumer.inbox import claim_run_in_inbox
from warden.shared.bus.consumer.messages import (
    BatchHandler,
    Delivery,
    Handler,
    Incoming,
    Parser,
    parse_cloudevent,
)
from warden.shared.bus.consumer.offsets import SettledOffsets
from warden.shared.bus.consumer.records import RecordHandling, Wanted
from warden.shared.bus.kafka import Publisher, start_with_retry
from warden.shared.observability import (
    CONSUMER_LAG,
    EVENT_PROCESSING_SECONDS,
    EVENTS_CONSUMED,
    get_logger,
)
from warden.shared.settings import ServiceSettings

log = get_logger(__name__)

# The longest a fetch waits for records before the loop looks again (at a due commit).
_FETCH_WAIT_S = 0.5
# What a lingering fetch waits to gather at most: far more than a linger's records at any rate
# one instance handles, so the linger, not the size, ends the wait.
_LINGER_BYTES = 1 << 20


@dataclass
class ConsumerRunner(RecordHandling):
    """Consumes ``topics`` in the service's group and hands each known event to its handler."""

    name: str
    topics: list[str]
    handlers: dict[str, Handler]
    settings: ServiceSettings
    sessions: async_sessionmaker[AsyncSession]
    producer: Publisher
    parse: Parser = parse_cloudevent
    max_records: int = 1000  # per fetch, across partitions (runs are cut at consumer_batch_size)
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)
    # Per event type, which payloads the handler acts on at all: the others are settled as
    # ignored before any transaction (no inbox row, no statement), since handling them would
    # change nothing. Pure predicates; one that raises sends its record down the one-by-one
    # path like a record that does not parse.
    wants: dict[str, Wanted] = field(default_factory=dict)
    # Its records are work nobody waits on as it happens (receipts, copies of a case's state
    # kept by other services): the broker holds each fetch up to ``background_linger_s`` so
    # that records gather, and a few reports a second cost one round, not one each.
    background: bool = False
    _consumer: AIOKafkaConsumer | None = field(default=None, init=False)
    _offsets: SettledOffsets = field(init=False)
    _task: asyncio.Task | None = field(default=None, init=False)

    @property
    def consumer_id(self) -> str:
        return f"{self.settings.service_name}.{self.name}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def assigned(self) -> bool:
        return bool(self._consumer and self._consumer.assignment())

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.settings.group_id}.{self.name}",
            client_id=self.consumer_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            **self._fetch_options(),
        )
        self._offsets = SettledOffsets(self._consumer, self.consumer_id,
                                       self.settings.consumer_commit_interval_s)
        self._consumer.subscribe([self.settings.topic(t) for t in self.topics],
                                 listener=self._offsets)
        await start_with_retry(self._consumer, f"consumer {self.consumer_id}")
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")

    def _fetch_options(self) -> dict[str, int]:
        linger_s = self.settings.background_linger_s if self.background else 0.0
        if not linger_s:
            return {}
        # The broker answers a fetch once this much has arrived or the linger has passed.
        return {"fetch_max_wait_ms": round(linger_s * 1000), "fetch_min_bytes": _LINGER_BYTES}

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._offsets.flush()
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            wait_s = self._offsets.seconds_until_due(_FETCH_WAIT_S)
            try:
                batches = await self._consumer.getmany(timeout_ms=int(wait_s * 1000),
                                                       max_records=self.max_records)
            except KafkaError as exc:
                log.warning("consumer_fetch_failed", consumer=self.consumer_id, error=repr(exc))
                await asyncio.sleep(1)
                continue
            if batches:
                # The fetch's partitions settled together (one after the other in the same
                # runs: each keeps its order); their offsets are committed with the next
                # commit that is due (offsets.py: why not after every fetch).
                await self._settle_all([r for records in batches.values() for r in records])
                offsets = {}
                for tp, records in batches.items():
                    offsets[tp] = records[-1].offset + 1
                    self._observe_lag(tp, records[-1].offset)
                self._offsets.settled(offsets)
            await self._offsets.commit_if_due()

    async def dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int) -> None:
        await super().dead_letter(record, exc, attempts)
        # Committed with this fetch: a re-read after a crash would dead-letter it again.
        self._offsets.due_now()

    def _observe_lag(self, tp: TopicPartition, last_offset: int) -> None:
        assert self._consumer is not None
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.settings.service_name, tp.topic, str(tp.partition)).set(
                max(0, highwater - last_offset - 1))

    async def _settle_all(self, records: list[ConsumerRecord]) -> None:
        """Settle records in order (each partition's records in its order): runs of parseable
        ones together, a record that does not parse alone (it goes to the DLQ without holding
        the others back)."""
        run: list[Incoming] = []
        for record in records:
            try:
                message = self.prepare(record)
                wanted = self._wanted(message)
            except Exception:  # noqa: BLE001 - the one-by-one path classifies it
                await self._settle_together(run)
                run = []
                await self._process_until_settled(record)
                continue
            if not wanted:
                EVENTS_CONSUMED.labels(self.settings.service_name, record.topic,
                                       self._ignored(message)).inc()
                continue
            run.append(message)
            if len(run) >= self.settings.consumer_batch_size:
                await self._settle_together(run)
                run = []
        await self._settle_together(run)

    async def _settle_together(self, messages: list[Incoming]) -> None:
        if len(messages) > 1 and await self._process_batch(messages):
            return
        for message in messages:
            await self._process_until_settled(message.record)

    async def _process_batch(self, messages: list[Incoming]) -> bool:
        """One attempt at handling ``messages`` in one transaction; False if it was rolled back."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcomes: list[str] = []
        try:
            async with self.sessions() as session, session.begin():
                for group in self._groups(messages):
                    if group[0].type in self.batch_handlers:
                        outcomes.extend(await self._handle_many(session, group))
                    else:
                        outcomes.append(await self._handle(session, group[0]))
                    # The next record sees the database, not objects cached by this one.
                    await session.flush()
                    session.expunge_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every record is retried on its own
            log.info("consumer_batch_rolled_back", consumer=self.consumer_id,
                     records=len(messages), error=repr(exc))
            return False
        each = (loop.time() - started) / len(messages)
        service = self.settings.service_name
        for message, outcome in zip(messages, outcomes, strict=True):
            EVENT_PROCESSING_SECONDS.labels(service, message.record.topic).observe(each)
            EVENTS_CONSUMED.labels(service, message.record.topic, outcome).inc()
        return True

    def _groups(self, messages: list[Incoming]) -> Iterator[list[Incoming]]:
        """Consecutive records of one batch-handled type and topic together; any other record
        alone."""
        group: list[Incoming] = []
        for message in messages:
            if group and (message.type != group[0].type
                          or message.record.topic != group[0].record.topic
                          or message.type not in self.batch_handlers):
                yield group
                group = []
            group.append(message)
        if group:
            yield group

    async def _handle_many(self, session: AsyncSession, messages: list[Incoming]) -> list[str]:
        """Claim a run of one type in the inbox with one statement, then hand the claimed
        records to the type's batch handler; the outcome of each record, in order."""
        claimed = await claim_run_in_inbox(session, self.consumer_id, messages)
        fresh, outcomes = [], []
        for message in messages:
            if message.event_id in claimed:
                claimed.discard(message.event_id)  # a second copy in the run is a duplicate
                fresh.append(Delivery(session=session, message=message,
                                      service=self.settings.service_name, in_scope=False))
                outcomes.append("processed")
            else:
                outcomes.append("duplicate")
        if fresh:
            await self.batch_handlers[messages[0].type](session, fresh)
        return outcomes
