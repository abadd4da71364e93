"""Settings base: every service reads its configuration from environment variables.

Shared infrastructure settings use the ``WARDEN_`` prefix (``WARDEN_KAFKA_BOOTSTRAP``);
a service's own settings use ``WARDEN_<SERVICE>_`` (``WARDEN_INTAKE_DATABASE_URL``).
Every field has a local default so ``make run`` needs nothing set.

Secrets are the exception to "defaults are fine": a service refuses to start while a
setting named ``*_secret`` or ``*_key`` (routing's lease signing key, decision's key that
verifies it) still holds its shipped (published) default, a reviewer-token
key is shorter than 32 bytes, or a ``dev_*`` setting is set — unless ``WARDEN_DEV_MODE``
says this is a development or test run (``make run``, the tests and the benchmarks set it).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_PG = "postgresql+asyncpg://warden:warden@127.0.0.1:54320"
LOCAL_REVIEWER_TOKEN_SECRET = "local-dev-reviewer-secret-change-me"
# RFC 7518 §3.2: an HS256 key is at least as long as the hash it feeds (32 bytes).
MIN_TOKEN_SECRET_BYTES = 32
# Settings whose shipped default is published, hence unfit outside development.
SECRET_SUFFIXES = ("_secret", "_key")


def default_min_insync(replication: int) -> int:
    """Two copies acknowledged when there are three or more (one broker may be lost without
    refusing writes, and no acknowledged write lives on one disk only); else every copy."""
    return 2 if replication >= 3 else 1


class InsecureConfiguration(RuntimeError):
    """A production start with development secrets; the message names every setting."""


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
    # Development or test run: published default secrets and ``dev_*`` settings are allowed.
    dev_mode: bool = shared("DEV_MODE", False)
    # Reviewer/operator bearer tokens (HS256). The current key signs (``warden token``) and
    # verifies; previous keys, by key id, still verify during a rotation.
    reviewer_token_secret: str = shared("REVIEWER_TOKEN_SECRET", LOCAL_REVIEWER_TOKEN_SECRET)
    reviewer_token_kid: str = shared("REVIEWER_TOKEN_KID", "local-dev", min_length=1)
    reviewer_token_previous_keys: dict[str, str] = shared("REVIEWER_TOKEN_PREVIOUS_KEYS", {})
    # OTLP/HTTP collector base URL (e.g. http://otel-collector:4318); unset: spans not exported.
    otlp_endpoint: str | None = shared("OTLP_ENDPOINT", None)

    database_url: str = f"{LOCAL_PG}/warden"
    db_pool_size: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    # uvicorn worker processes on the one port (each with its own pool, relay and consumers).
    workers: int = Field(1, ge=1)
    consumers_enabled: bool = True
    consumer_group: str | None = None
    consumer_max_attempts: int = Field(5, ge=1)
    consumer_backoff_initial_s: float = 0.2
    consumer_backoff_max_s: float = 5.0
    # Consecutive records of a fetch handled in one database transaction (1: one each).
    # A batch that fails is rolled back and its records are handled one by one.
    consumer_batch_size: int = Field(100, ge=1)
    # Settled offsets are committed together at most this often (0: after every fetch); a
    # consumer that dies re-reads up to this much, which the inbox skips as duplicates.
    consumer_commit_interval_s: float = Field(1.0, ge=0)
    # How long work nobody waits on as it happens (receipts and notices, other services'
    # copies of a case's state) may gather before it is handled: at a few reports a second,
    # one round for many records instead of one each. 0: handled at once.
    background_linger_s: float = Field(0.2, ge=0, le=5)
    outbox_poll_interval_s: float = 1.0
    # How long the relay lets events gather after a wake-up: 0 unless every reader of the
    # service's events is background work (see background_linger_s).
    outbox_linger_s: float = Field(0.0, ge=0, le=5)
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
        return default_min_insync(self.topic_replication)

    def env_name(self, field: str) -> str:
        """The environment variable that sets ``field``."""
        alias = type(self).model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"{self.model_config.get('env_prefix', '')}{field}".upper()

    def insecure_settings(self) -> list[str]:
        """What makes this configuration unfit outside development, one line per setting."""
        problems = []
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if name.endswith(SECRET_SUFFIXES) and value and value == info.default:
                problems.append(f"{self.env_name(name)} still holds the published default")
            elif name.startswith("dev_") and name != "dev_mode" and value:
                problems.append(f"{self.env_name(name)} is a development-only setting")
        for kid, secret in self.reviewer_token_previous_keys.items():
            if secret == LOCAL_REVIEWER_TOKEN_SECRET:
                problems.append(f"previous reviewer token key {kid!r} is the published default")
        for kid, secret in self.reviewer_token_keys().items():
            if len(secret.encode()) < MIN_TOKEN_SECRET_BYTES:
                problems.append(f"reviewer token key {kid!r} is shorter than "
                                f"{MIN_TOKEN_SECRET_BYTES} bytes")
        return problems

    def reviewer_token_keys(self) -> dict[str, str]:
        """Every key that verifies reviewer tokens, by key id (the signing key included)."""
        return {**self.reviewer_token_previous_keys,
                self.reviewer_token_kid: self.reviewer_token_secret}

    def require_secure(self) -> None:
        """Refuse a production start with development secrets (no-op in dev mode)."""
        problems = [] if self.dev_mode else self.insecure_settings()
        if problems:
            raise InsecureConfiguration(
                f"{self.service_name} refuses to start: " + "; ".join(problems)
                + ". Set real secrets, or WARDEN_DEV_MODE=true for a development run.")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}warden-{self.service_name}"

    @property
    def source(self) -> str:
        """CloudEvents ``source`` of the events this service emits."""
        return f"/warden/{self.service_name}"
