"""Settings base: every service reads its configuration from environment variables.

Shared infrastructure settings use the ``WARDEN_`` prefix (``WARDEN_KAFKA_BOOTSTRAP``);
a service's own settings use ``WARDEN_<SERVICE>_`` (``WARDEN_INTAKE_DATABASE_URL``).
Every field has a local default so ``make run`` needs nothing set.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_PG = "postgresql+asyncpg://warden:warden@127.0.0.1:54320"


def shared(name: str, default, **kwargs):
    """A setting shared by all services, read from ``WARDEN_<NAME>``."""
    return Field(default, validation_alias=AliasChoices(f"WARDEN_{name}", name.lower()), **kwargs)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "warden"

    kafka_bootstrap: str = shared("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    topic_prefix: str = shared("TOPIC_PREFIX", "")
    topic_partitions: int = shared("TOPIC_PARTITIONS", 3, ge=1)
    topic_replication: int = shared("TOPIC_REPLICATION", 1, ge=1)
    # Unset: 2 when topics are replicated 3 times or more (one broker may be lost without
    # losing an acknowledged write, and acks=all still succeeds), else 1.
    topic_min_insync_replicas: int | None = shared("TOPIC_MIN_INSYNC_REPLICAS", None, ge=1)
    create_topics: bool = shared("CREATE_TOPICS", True)
    log_level: str = shared("LOG_LEVEL", "INFO")
    log_json: bool = shared("LOG_JSON", True)
    reviewer_token_secret: str = shared("REVIEWER_TOKEN_SECRET", "local-dev-reviewer-secret-change-me")

    database_url: str = f"{LOCAL_PG}/warden"
    db_pool_size: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    consumers_enabled: bool = True
    consumer_group: str | None = None
    consumer_max_attempts: int = Field(5, ge=1)
    consumer_backoff_initial_s: float = 0.2
    consumer_backoff_max_s: float = 5.0
    # Consecutive records of one partition handled in one database transaction (1: one each).
    # A batch that fails is rolled back and its records are handled one by one.
    consumer_batch_size: int = Field(100, ge=1)
    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 500
    # /readyz reports the relay unhealthy when Kafka has not acknowledged a batch for this long.
    outbox_stall_after_s: float = 10.0
    # Deadline of each /readyz dependency check (database, Kafka), run side by side.
    readiness_timeout_s: float = shared("READINESS_TIMEOUT_S", 1.0, gt=0)

    @property
    def min_insync_replicas(self) -> int:
        """``min.insync.replicas`` of the topics the project creates."""
        if self.topic_min_insync_replicas is not None:
            return self.topic_min_insync_replicas
        return 2 if self.topic_replication >= 3 else 1

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}warden-{self.service_name}"

    @property
    def source(self) -> str:
        """CloudEvents ``source`` of the events this service emits."""
        return f"/warden/{self.service_name}"
