"""Consumer runner: at-least-once delivery made effectively-once by the inbox.

For every record: parse it, then in ONE database transaction record its event id in
the inbox (a duplicate is skipped) and run the handler; only after that commit is the
Kafka offset committed. Failures are classified once, here:

* ``InvalidMessage`` and other non-retryable ``WardenError`` -> dead-letter topic at once;
* retryable errors (``TransientError``, write conflicts, unexpected exceptions) -> retried
  with backoff up to ``consumer_max_attempts``, then the dead-letter topic;
* the database or Kafka being unreachable -> retried until they are back (the partition
  waits: sending everything to the DLQ during an outage would be worse).

Throughput: consecutive records of one partition are first tried together in one transaction
(``consumer_batch_size``), which costs one commit instead of one per record. Each record keeps
its own inbox row and starts with an empty identity map, so the outcome is the one of handling
them one after another. If anything in the batch fails, the whole batch is rolled back and
its records are handled one by one as above, so the classification never changes.

A handler may instead take a whole run at once (``batch_handlers``: set-based SQL, a few
statements per run rather than several per record): the runner claims the run's event ids in
the inbox with one statement and hands the handler the records it claimed, in order. It is
also called with a single record on the one-by-one path, so it must not assume more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.backoff import backoff_delay
from warden.shared.bus.dlq import dlq_headers, original_timestamp_ms
from warden.shared.bus.kafka import OutgoingRecord, Publisher, start_with_retry
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import EVENT_MODELS
from warden.shared.contracts.topics import dlq
from warden.shared.db import InboxRecord, is_database_unreachable
from warden.shared.errors import InvalidMessage, WardenError
from warden.shared.observability import (
    BROKER_LOSS,
    CONSUMER_LAG,
    DLQ_RECORDS,
    DLQ_SEND_FAILURES,
    EVENT_PROCESSING_SECONDS,
    EVENTS_CONSUMED,
    UNKNOWN_EVENTS,
    correlation_id_var,
    get_logger,
    scrub,
    scrubbed_traceback,
)
from warden.shared.settings import ServiceSettings
from warden.shared.tracing import consuming, in_trace_of

log = get_logger(__name__)
_inbox = InboxRecord.__table__
_CLAIM_IN_INBOX = insert(_inbox).on_conflict_do_nothing().returning(_inbox.c.event_id)
# A run's event ids (all of one partition, hence one topic) in one statement of one SQL text.
_run_ids = (sa.func.unnest(sa.bindparam("event_ids", type_=sa.ARRAY(sa.Text)))
            .table_valued("event_id").render_derived())
_CLAIM_RUN_IN_INBOX = (
    insert(_inbox)
    .from_select(["consumer", "event_id", "topic"],
                 sa.select(sa.bindparam("consumer", type_=sa.Text), _run_ids.c.event_id,
                           sa.bindparam("topic", type_=sa.Text)))
    .on_conflict_do_nothing().returning(_inbox.c.event_id))


@dataclass
class Incoming:
    """A parsed record: what handlers receive, together with the open session."""

    event_id: str
    type: str
    payload: Any
    record: ConsumerRecord
    event: CloudEvent | None = None


@dataclass
class Delivery:
    session: AsyncSession
    message: Incoming
    service: str = ""
    in_scope: bool = True  # the runner already opened this record's span and correlation id

    @property
    def event(self) -> CloudEvent:
        assert self.message.event is not None
        return self.message.event

    @property
    def payload(self) -> Any:
        return self.message.payload

    def scope(self) -> contextlib.AbstractContextManager[None]:
        """This record's consumer span and correlation id, for the part of a batch handler
        that works on it (what it stages in the outbox carries them on)."""
        if self.in_scope:
            return contextlib.nullcontext()
        return _RecordScope(self.service, self.message)


class _RecordScope:
    """A record's correlation id and consumer span, current for a with-block (a plain object:
    entered once per record on the hot path)."""

    __slots__ = ("_message", "_span", "_token")

    def __init__(self, service: str, message: Incoming) -> None:
        self._message = message
        self._span = consuming(service, topic=message.record.topic, event_type=message.type,
                               event_id=message.event_id, traceparent=_traceparent(message))

    def __enter__(self) -> None:
        event = self._message.event
        self._token = correlation_id_var.set(event.correlationid if event else None)
        try:
            self._span.__enter__()
        except BaseException:
            correlation_id_var.reset(self._token)
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._span.__exit__(exc_type, exc, tb)
        finally:
            correlation_id_var.reset(self._token)


Handler = Callable[[Delivery], Awaitable[None]]
# Handles a run of claimed records of one type together, in the caller's transaction.
BatchHandler = Callable[[AsyncSession, list[Delivery]], Awaitable[None]]
Parser = Callable[[ConsumerRecord], Incoming]


def parse_cloudevent(record: ConsumerRecord) -> Incoming:
    event = CloudEvent.from_bytes(record.value)
    return Incoming(event_id=event.id, type=event.type, payload=None, record=record, event=event)


def _traceparent(message: Incoming) -> str | None:
    """The producer's trace context: the envelope's, else a ``traceparent`` record header
    (plain JSON from upstream systems)."""
    if message.event is not None and message.event.traceparent:
        return message.event.traceparent
    header = dict(message.record.headers or []).get("traceparent")
    return header.decode("latin-1") if header else None


@contextlib.contextmanager
def _about(record: ConsumerRecord):
    """Log lines about ``record`` written outside its handler (retries, dead-lettering) carry
    its correlation id and trace id, read from its envelope or else its headers. Only the
    failure paths pay for this: the handler's own span and correlation id cover the rest."""
    headers = {key.lower(): value for key, value in record.headers or []}
    correlation = headers.get("x-correlation-id") or headers.get("correlation-id")
    cid = correlation.decode("latin-1") if correlation else None
    traceparent = headers["traceparent"].decode("latin-1") if "traceparent" in headers else None
    try:
        event = CloudEvent.from_bytes(record.value)
    except Exception:  # noqa: BLE001 - not an envelope (or not even JSON): the headers' ids
        pass
    else:
        cid, traceparent = event.correlationid or cid, event.traceparent or traceparent
    token = correlation_id_var.set(cid)
    try:
        with in_trace_of(traceparent):
            yield
    finally:
        correlation_id_var.reset(token)


class _Outage(Exception):
    """The database or Kafka is unreachable: wait and retry, never dead-letter."""


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError) or is_database_unreachable(exc)


@dataclass
class ConsumerRunner:
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
    _consumer: AIOKafkaConsumer | None = field(default=None, init=False)
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
            *[self.settings.topic(t) for t in self.topics],
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.settings.group_id}.{self.name}",
            client_id=self.consumer_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
        )
        await start_with_retry(self._consumer, f"consumer {self.consumer_id}")
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self.max_records)
            except KafkaError as exc:
                log.warning("consumer_fetch_failed", consumer=self.consumer_id, error=repr(exc))
                await asyncio.sleep(1)
                continue
            for tp, records in batches.items():
                await self._settle_all(records)
                await self._commit(tp, records[-1].offset + 1)
                self._observe_lag(tp, records[-1].offset)

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        assert self._consumer is not None
        for attempt in range(1, 1000):
            try:
                await self._consumer.commit({tp: offset})
                BROKER_LOSS.recovered()
                return
            except KafkaError as exc:
                # A rebalance may have moved the partition away: its new owner re-reads
                # from the last commit and the inbox makes the re-read harmless.
                if not self._consumer.assignment() or tp not in self._consumer.assignment():
                    log.info("commit_skipped_partition_revoked", partition=str(tp))
                    return
                log.warning("commit_failed", error=repr(exc), attempt=attempt)
                await asyncio.sleep(backoff_delay(attempt, initial=0.2, maximum=5))

    def _observe_lag(self, tp: TopicPartition, last_offset: int) -> None:
        assert self._consumer is not None
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.settings.service_name, tp.topic, str(tp.partition)).set(
                max(0, highwater - last_offset - 1))

    async def _settle_all(self, records: list[ConsumerRecord]) -> None:
        """Settle records of one partition in order: runs of parseable ones together, a record
        that does not parse alone (it goes to the DLQ without holding the others back)."""
        run: list[Incoming] = []
        for record in records:
            try:
                run.append(self.prepare(record))
            except Exception:  # noqa: BLE001 - the one-by-one path classifies it
                await self._settle_together(run)
                run = []
                await self._process_until_settled(record)
                continue
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
        """Consecutive records of one batch-handled type together; any other record alone."""
        group: list[Incoming] = []
        for message in messages:
            if group and (message.type != group[0].type
                          or message.type not in self.batch_handlers):
                yield group
                group = []
            group.append(message)
        if group:
            yield group

    async def _handle_many(self, session: AsyncSession, messages: list[Incoming]) -> list[str]:
        """Claim a run of one type in the inbox with one statement, then hand the claimed
        records to the type's batch handler; the outcome of each record, in order."""
        claimed = await self._claim_all_in_inbox(session, messages)
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

    async def _claim_all_in_inbox(self, session: AsyncSession,
                                  messages: list[Incoming]) -> set[str]:
        topic = messages[0].record.topic
        event_ids = list(dict.fromkeys(m.event_id for m in messages))
        assert all(m.record.topic == topic for m in messages), "a run is of one partition"
        inserted = await session.execute(_CLAIM_RUN_IN_INBOX, {
            "consumer": self.consumer_id, "topic": topic, "event_ids": event_ids})
        return {row[0] for row in inserted}

    async def _process_until_settled(self, record: ConsumerRecord) -> None:
        """Handle one record, retrying per the policy above; returns once it is settled."""
        service, attempt, outage = self.settings.service_name, 0, 0
        with EVENT_PROCESSING_SECONDS.labels(service, record.topic).time():
            while True:
                try:
                    outcome = await self.process(record)
                    EVENTS_CONSUMED.labels(service, record.topic, outcome).inc()
                    return
                except asyncio.CancelledError:
                    raise
                except _Outage as exc:
                    outage += 1
                    with _about(record):
                        log.warning("consumer_dependency_unavailable", consumer=self.consumer_id,
                                    error=repr(exc.__cause__), attempt=outage)
                    await asyncio.sleep(backoff_delay(outage, initial=0.5, maximum=10))
                except Exception as exc:  # noqa: BLE001 - classified below
                    attempt += 1
                    retryable = not isinstance(exc, WardenError) or exc.retryable
                    if retryable and attempt < self.settings.consumer_max_attempts:
                        with _about(record):
                            log.warning("consumer_retry", consumer=self.consumer_id,
                                        attempt=attempt, error=repr(exc), offset=record.offset,
                                        topic=record.topic)
                        await asyncio.sleep(backoff_delay(
                            attempt, initial=self.settings.consumer_backoff_initial_s,
                            maximum=self.settings.consumer_backoff_max_s))
                        continue
                    with _about(record):
                        await self.dead_letter(record, exc, attempt)
                    EVENTS_CONSUMED.labels(service, record.topic, "dead_lettered").inc()
                    return

    def prepare(self, record: ConsumerRecord) -> Incoming:
        """Parse a record and, when a handler wants it, its payload (raises if it cannot)."""
        message = self.parse(record)
        if self._handled(message.type) and message.event is not None \
                and message.payload is None:
            message.payload = message.event.payload()
        return message

    async def process(self, record: ConsumerRecord) -> str:
        """One attempt. Returns the outcome: processed, duplicate or ignored."""
        message = self.prepare(record)
        if not self._handled(message.type):
            return self._ignored(message)
        try:
            async with self.sessions() as session, session.begin():
                return await self._handle(session, message)
        except Exception as exc:
            if _is_outage(exc):
                raise _Outage() from exc
            raise

    def _handled(self, event_type: str) -> bool:
        return event_type in self.handlers or event_type in self.batch_handlers

    def _ignored(self, message: Incoming) -> str:
        """Skip an event no handler here wants. A type the contracts do not know is worth a
        warning and a metric: most likely a producer on a newer version than this consumer."""
        if message.type in EVENT_MODELS:
            log.debug("event_ignored", type=message.type, consumer=self.consumer_id)
        else:
            event_type = message.type[:100]
            UNKNOWN_EVENTS.labels(self.settings.service_name, message.record.topic,
                                  event_type).inc()
            log.warning("event_of_unknown_type_skipped", type=event_type,
                        consumer=self.consumer_id, topic=message.record.topic,
                        offset=message.record.offset, event_id=message.event_id)
        return "ignored"

    async def _handle(self, session: AsyncSession, message: Incoming) -> str:
        """Run the handler of a prepared message in the caller's transaction."""
        handler, many = self.handlers.get(message.type), self.batch_handlers.get(message.type)
        if handler is None and many is None:
            return self._ignored(message)
        with _RecordScope(self.settings.service_name, message):
            if not await self._claim_in_inbox(session, message):
                return "duplicate"
            delivery = Delivery(session=session, message=message,
                                service=self.settings.service_name)
            await (handler(delivery) if handler is not None else many(session, [delivery]))
            return "processed"

    async def _claim_in_inbox(self, session: AsyncSession, message: Incoming) -> bool:
        inserted = await session.execute(_CLAIM_IN_INBOX, {
            "consumer": self.consumer_id, "event_id": message.event_id,
            "topic": message.record.topic})
        return inserted.first() is not None

    async def dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int) -> None:
        """Send the original record (bytes, key, headers, timestamp) to ``<topic>.dlq`` with the
        reason in ``dlq.*`` headers; returns only once Kafka acknowledged it.

        There is no giving up: until the DLQ has it, the record is neither processed nor
        dead-lettered, so its offset must not be committed (cancellation leaves it uncommitted
        too, and the next owner of the partition handles it again).
        """
        reason = scrub(exc.detail if isinstance(exc, WardenError) else repr(exc))
        headers = dlq_headers(record, reason=reason, error_type=type(exc).__name__,
                              consumer=self.consumer_id, attempts=attempts)
        if not isinstance(exc, InvalidMessage):
            headers.append(("dlq.stacktrace", scrubbed_traceback(exc)[-4000:].encode()))
        dlq_topic = dlq(record.topic)
        letter = OutgoingRecord(dlq_topic, record.value, record.key, headers,
                                timestamp_ms=original_timestamp_ms(record))
        attempt = 0
        while True:
            try:
                await self.producer.send(letter)
                break
            except asyncio.CancelledError:
                raise
            except Exception as send_error:  # noqa: BLE001 - every failure is retried
                attempt += 1
                DLQ_SEND_FAILURES.labels(self.settings.service_name, dlq_topic).inc()
                (log.warning if attempt == 1 else log.info)(
                    "dlq_send_failed", consumer=self.consumer_id, topic=dlq_topic,
                    offset=record.offset, error=repr(send_error), attempt=attempt)
                await asyncio.sleep(backoff_delay(attempt, initial=0.5, maximum=10))
        DLQ_RECORDS.labels(self.settings.service_name, dlq_topic).inc()
        log.warning("event_dead_lettered", consumer=self.consumer_id, topic=record.topic,
                    offset=record.offset, reason=reason[:500])
