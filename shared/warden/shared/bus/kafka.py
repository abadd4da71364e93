"""Producer and topic administration."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from warden.shared.errors import TransientError
from warden.shared.observability import get_logger

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


async def ensure_topics(bootstrap: str, names: list[str], partitions: int,
                        replication: int) -> list[str]:
    """Create the topics that are missing (never relying on broker auto-create); returns created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="warden-topics")
    await start_with_retry(admin, "topic admin")
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication)
             for name in missing]
        )
        for error in getattr(response, "topic_errors", []):
            name, code = error[0], error[1]
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"could not create topic {name}: error code {code} {error[2:]}")
        await _wait_for_metadata(admin, missing)
        log.info("topics_created", topics=missing, partitions=partitions, replication=replication)
        return missing
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    for _ in range(50):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
