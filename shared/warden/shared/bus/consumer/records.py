"""One record at a time: parse it, decide whether its handler wants it, handle it in its own
transaction with the inbox, and retry or dead-letter it by the failure classes of the
package's docstring. The runner (``runner.py``) uses this for what its runs cannot settle:
a record that does not parse, and every record of a run that was rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.backoff import backoff_delay
from warden.shared.bus.consumer.dead_letters import send_to_dlq
from warden.shared.bus.consumer.inbox import claim_in_inbox
from warden.shared.bus.consumer.messages import (
    BatchHandler,
    Delivery,
    Handler,
    Incoming,
    Parser,
    RecordScope,
    about,
)
from warden.shared.bus.kafka import Publisher
from warden.shared.contracts.events import EVENT_MODELS
from warden.shared.db import is_database_unreachable
from warden.shared.errors import WardenError
from warden.shared.observability import (
    EVENT_PROCESSING_SECONDS,
    EVENTS_CONSUMED,
    UNKNOWN_EVENTS,
    get_logger,
)
from warden.shared.settings import ServiceSettings

log = get_logger(__name__)

Wanted = Callable[[Any], bool]


class _Outage(Exception):
    """The database or Kafka is unreachable: wait and retry, never dead-letter."""


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError) or is_database_unreachable(exc)


class RecordHandling:
    """What ``ConsumerRunner`` does with a single record (its fields are declared there)."""

    settings: ServiceSettings
    sessions: async_sessionmaker[AsyncSession]
    producer: Publisher
    parse: Parser
    handlers: dict[str, Handler]
    batch_handlers: dict[str, BatchHandler]
    wants: dict[str, Wanted]
    consumer_id: str

    async def _process_until_settled(self, record: ConsumerRecord) -> None:
        """Handle one record, retrying by the failure classes (the package docstring); returns
        once it is settled."""
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
                    with about(record):
                        log.warning("consumer_dependency_unavailable", consumer=self.consumer_id,
                                    error=repr(exc.__cause__), attempt=outage)
                    await asyncio.sleep(backoff_delay(outage, initial=0.5, maximum=10))
                except Exception as exc:  # noqa: BLE001 - classified below
                    attempt += 1
                    retryable = not isinstance(exc, WardenError) or exc.retryable
                    if retryable and attempt < self.settings.consumer_max_attempts:
                        with about(record):
                            log.warning("consumer_retry", consumer=self.consumer_id,
                                        attempt=attempt, error=repr(exc), offset=record.offset,
                                        topic=record.topic)
                        await asyncio.sleep(backoff_delay(
                            attempt, initial=self.settings.consumer_backoff_initial_s,
                            maximum=self.settings.consumer_backoff_max_s))
                        continue
                    with about(record):
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
        if not self._handled(message.type) or not self._wanted(message):
            return self._ignored(message)
        try:
            async with self.sessions() as session, session.begin():
                return await self._handle(session, message)
        except Exception as exc:
            if _is_outage(exc):
                raise _Outage() from exc
            raise

    def _wanted(self, message: Incoming) -> bool:
        """False for a handled event whose payload its handler would do nothing with."""
        wants = self.wants.get(message.type)
        return wants is None or wants(message.payload)

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
        with RecordScope(self.settings.service_name, message):
            if not await claim_in_inbox(session, self.consumer_id, message):
                return "duplicate"
            delivery = Delivery(session=session, message=message,
                                service=self.settings.service_name)
            await (handler(delivery) if handler is not None else many(session, [delivery]))
            return "processed"


    async def dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int) -> None:
        await send_to_dlq(self.producer, record, exc, attempts, consumer=self.consumer_id,
                          service=self.settings.service_name)
