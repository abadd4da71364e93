"""Producer, publisher and topic administration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from warden.shared.errors import TransientError
from warden.shared.observability import BROKER_LOSS, PRODUCER_RENEWALS, get_logger
from warden.shared.settings import default_min_insync

log = get_logger(__name__)

TOPIC_ALREADY_EXISTS = 36


def create_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """Idempotent producer: ``acks=all`` and broker-side de-duplication of retried batches."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=30000,
    )


@dataclass
class OutgoingRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp_ms: int | None = None


class Publisher:
    """An idempotent producer that starts afresh after any failed send.

    aiokafka numbers an idempotent producer's batches per partition and never renumbers
    them. When one batch fails for good (e.g. it expired while a restarting broker had no
    leader for its partition), the numbers already handed out leave a gap, and the broker
    answers every later batch on that partition with ``OutOfOrderSequenceNumber`` — for
    ever, since aiokafka does not bump the producer epoch as the Java client does. A new
    producer gets a new producer id whose sequence starts at 0, so after any failure this
    class drops its producer and the next call starts a fresh one. Callers resend what was
    not acknowledged (the outbox relay and the consumer's DLQ send both do), so nothing is
    lost; sends are awaited in order, so nothing acknowledged is sent twice.
    """

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def client(self):
        """The live producer's Kafka client (metadata for readiness), if one runs."""
        return self._producer.client if self._producer is not None else None

    async def check(self) -> None:
        """Fetch the cluster's metadata (readiness); starts a producer when none runs."""
        if self._producer is None:
            async with self._lock:
                await self._live()
        client = self.client
        if client is None:  # dropped meanwhile by a failed send
            raise TransientError("the producer is being replaced")
        await client.fetch_all_metadata()
        BROKER_LOSS.recovered()

    async def start(self) -> None:
        """Start the first producer, waiting for the broker (start-up ordering)."""
        producer = create_producer(self._bootstrap, self._client_id)
        await start_with_retry(producer, f"producer {self._client_id}")
        self._producer = producer

    async def stop(self) -> None:
        async with self._lock:
            await self._drop()

    async def publish(self, records: list[OutgoingRecord]) -> list[BaseException | None]:
        """Send ``records`` in order and wait for every acknowledgement.

        Returns one outcome per record: ``None`` when Kafka acknowledged it, else the error.
        A record that could not even be handed to the producer fails, and so do the ones
        after it (they are not attempted, which keeps their order for the retry).
        """
        async with self._lock:
            futures: list[asyncio.Future] = []
            refused: BaseException | None = None
            try:
                producer = await self._live()
                for record in records:
                    futures.append(await producer.send(
                        record.topic, value=record.value, key=record.key,
                        headers=record.headers, timestamp_ms=record.timestamp_ms))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - handed back as outcomes
                refused = exc
            results = await asyncio.gather(*futures, return_exceptions=True)
            outcomes: list[BaseException | None] = [
                r if isinstance(r, BaseException) else None for r in results]
            outcomes += [refused] * (len(records) - len(futures))
            first_error = next((o for o in outcomes if o is not None), None)
            if first_error is not None:
                log.info("producer_renewed", client=self._client_id, error=repr(first_error),
                         failed=sum(o is not None for o in outcomes), sent=len(records))
                PRODUCER_RENEWALS.labels(self._client_id).inc()
                await self._drop()
            elif records:
                BROKER_LOSS.recovered()
            return outcomes

    async def send(self, record: OutgoingRecord) -> None:
        """Send one record and wait for its acknowledgement; raises what prevented it."""
        (outcome,) = await self.publish([record])
        if outcome is not None:
            raise outcome

    async def _live(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = create_producer(self._bootstrap, self._client_id)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                # Every future of it is settled, so there is nothing left to flush.
                await producer.stop()
            except Exception as exc:  # noqa: BLE001 - it is being thrown away anyway
                log.info("producer_stop_failed", client=self._client_id, error=repr(exc))


async def start_with_retry(client, what: str, attempts: int = 30, delay: float = 1.0) -> None:
    """Start an aiokafka client, waiting for the broker to come up (start-up ordering)."""
    for attempt in range(1, attempts + 1):
        try:
            await client.start()
            return
        except Exception as exc:  # noqa: BLE001 - aiokafka raises several connection errors
            if attempt == attempts:
                raise TransientError(f"{what}: Kafka not reachable: {exc}") from exc
            log.warning("kafka_not_ready", client=what, attempt=attempt, error=str(exc))
            await asyncio.sleep(delay)


@contextlib.asynccontextmanager
async def started(client, start: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator:
    """Start an aiokafka consumer or admin client (``start`` instead of its own, e.g. with
    retries) and close it on the way out, also when it never started: a client left unclosed
    makes aiokafka print "Unclosed AIOKafkaConsumer" when the broker could not be reached."""
    try:
        await (start or client.start)()
        yield client
    finally:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())


MIN_INSYNC = "min.insync.replicas"


async def ensure_topics(bootstrap: str, names: list[str], partitions: int,
                        replication: int, min_insync_replicas: int | None = None) -> list[str]:
    """Create the topics that are missing (never relying on broker auto-create); returns created.

    ``min_insync_replicas`` (by default ``default_min_insync(replication)``) is set on each
    topic, so ``acks=all`` means that many copies whatever the brokers' default is."""
    if min_insync_replicas is None:
        min_insync_replicas = default_min_insync(replication)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="warden-topics")
    async with started(admin, lambda: start_with_retry(admin, "topic admin")):
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication,
                      topic_configs={MIN_INSYNC: str(min_insync_replicas)})
             for name in missing]
        )
        for error in getattr(response, "topic_errors", []):
            name, code = error[0], error[1]
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"could not create topic {name}: error code {code} {error[2:]}")
        await _wait_for_metadata(admin, missing)
        log.info("topics_created", topics=missing, partitions=partitions, replication=replication,
                 min_insync_replicas=min_insync_replicas)
        return missing


@dataclass
class TopicDescription:
    name: str
    exists: bool
    partitions: int = 0
    replication: int = 0
    min_insync_replicas: str | None = None


async def describe_topics(bootstrap: str, names: list[str]) -> list[TopicDescription]:
    """Partitions, replication factor and ``min.insync.replicas`` of each named topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="warden-topics")
    async with started(admin, lambda: start_with_retry(admin, "topic admin", attempts=3)):
        present = {t["topic"]: t for t in await admin.describe_topics(names)
                   if t["error_code"] == 0}
        settings: dict[str, str] = {}
        if present:
            for response in await admin.describe_configs([
                    ConfigResource(ConfigResourceType.TOPIC, name, configs={MIN_INSYNC: None})
                    for name in present]):
                for _error, _message, _type, name, entries in response.resources:
                    settings.update({name: entry[1] for entry in entries if entry[0] == MIN_INSYNC})
    described = []
    for name in names:
        topic = present.get(name)
        if topic is None:
            described.append(TopicDescription(name, exists=False))
            continue
        partitions = topic["partitions"]
        described.append(TopicDescription(
            name, exists=True, partitions=len(partitions),
            replication=max((len(p["replicas"]) for p in partitions), default=0),
            min_insync_replicas=settings.get(name)))
    return described


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    for _ in range(50):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
