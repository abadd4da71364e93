"""Dead letters: a record that cannot be handled goes to ``<topic>.dlq`` with the reason."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord

from warden.shared.backoff import backoff_delay
from warden.shared.bus.dlq import dlq_headers, original_timestamp_ms
from warden.shared.bus.kafka import OutgoingRecord, Publisher
from warden.shared.contracts.topics import dlq
from warden.shared.errors import InvalidMessage, WardenError
from warden.shared.observability import (
    DLQ_RECORDS,
    DLQ_SEND_FAILURES,
    get_logger,
    scrub,
    scrubbed_traceback,
)

log = get_logger(__name__)


async def send_to_dlq(producer: Publisher, record: ConsumerRecord, exc: BaseException,
                      attempts: int, *, consumer: str, service: str) -> None:
    """Send the original record (bytes, key, headers, timestamp) to ``<topic>.dlq`` with the
    reason in ``dlq.*`` headers; returns only once Kafka acknowledged it.

    There is no giving up: until the DLQ has it, the record is neither processed nor
    dead-lettered, so its offset must not be committed (cancellation leaves it uncommitted
    too, and the next owner of the partition handles it again).
    """
    reason = scrub(exc.detail if isinstance(exc, WardenError) else repr(exc))
    headers = dlq_headers(record, reason=reason, error_type=type(exc).__name__,
                          consumer=consumer, attempts=attempts)
    if not isinstance(exc, InvalidMessage):
        headers.append(("dlq.stacktrace", scrubbed_traceback(exc)[-4000:].encode()))
    dlq_topic = dlq(record.topic)
    letter = OutgoingRecord(dlq_topic, record.value, record.key, headers,
                            timestamp_ms=original_timestamp_ms(record))
    attempt = 0
    while True:
        try:
            await producer.send(letter)
            break
        except asyncio.CancelledError:
            raise
        except Exception as send_error:  # noqa: BLE001 - every failure is retried
            attempt += 1
            DLQ_SEND_FAILURES.labels(service, dlq_topic).inc()
            (log.warning if attempt == 1 else log.info)(
                "dlq_send_failed", consumer=consumer, topic=dlq_topic,
                offset=record.offset, error=repr(send_error), attempt=attempt)
            await asyncio.sleep(backoff_delay(attempt, initial=0.5, maximum=10))
    DLQ_RECORDS.labels(service, dlq_topic).inc()
    log.warning("event_dead_lettered", consumer=consumer, topic=record.topic,
                offset=record.offset, reason=reason[:500])
