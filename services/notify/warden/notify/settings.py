from __future__ import annotations

import math

from typing import ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from warden.notify.signing import InvalidSecret, secret_key
from warden.shared.settings import LOCAL_PG, ServiceSettings

# Local development only: production sets WARDEN_NOTIFY_WEBHOOK_SECRET (a fresh ``whsec_`` secret).
LOCAL_WEBHOOK_SECRET = "whsec_d2FyZGVuLWxvY2FsLWRldmVsb3BtZW50LXNlY3JldCE="
LOCAL_RECEIVER_URL = "http://127.0.0.1:8099/webhooks"
LOCAL_SMTP_URL = "smtp://127.0.0.1:8025"
# The configured webhook endpoint is the platform's messaging endpoint: it takes the notices
# for every audience that is not written to by email.
MESSAGING_AUDIENCES = ["reporter", "affected", "authority", "law_enforcement",
                       "child_safety_hotline"]
EMAIL_AUDIENCES = ["reporter", "authority"]


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_NOTIFY_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "notify"

    database_url: str = f"{LOCAL_PG}/warden_notify"
    port: int = 8004

    # The endpoint configured from the environment; upserted into ``endpoints`` at start-up
    # under the name ``configured``. An empty URL disables it.
    webhook_url: str = Field(LOCAL_RECEIVER_URL, description="WARDEN_NOTIFY_WEBHOOK_URL")
    webhook_secret: str = Field(LOCAL_WEBHOOK_SECRET, description="WARDEN_NOTIFY_WEBHOOK_SECRET")

    webhook_audiences: list[str] = Field(default_factory=lambda: list(MESSAGING_AUDIENCES),
                                         description="WARDEN_NOTIFY_WEBHOOK_AUDIENCES (JSON)")
    # A changed WARDEN_NOTIFY_WEBHOOK_SECRET (or a rotation through the API) keeps the old
    # secret signing too for this long, so receivers switch without losing a message.
    secret_rotation_overlap_s: float = Field(86400.0, ge=0)

    # Email: the SMTP relay every email notice goes through (empty: no email endpoint).
    smtp_url: str = Field(LOCAL_SMTP_URL, description="WARDEN_NOTIFY_SMTP_URL")
    email_from: str = "Warden Trust & Safety <notices@warden.example>"
    email_audiences: list[str] = Field(default_factory=lambda: list(EMAIL_AUDIENCES))

    # DSA Transparency Database: off unless a base URL and token are given.
    tdb_url: str = Field("", description="WARDEN_NOTIFY_TDB_URL, e.g. "
                                         "https://transparency.dsa.ec.europa.eu")
    tdb_token: str = Field("", description="WARDEN_NOTIFY_TDB_TOKEN")
    tdb_batch_size: int = Field(100, ge=1, le=100)
    tdb_min_interval_s: float = Field(0.5, ge=0)

    # Notify's events (notifications.delivered) are read by background consumers only:
    # intake's status of a report, decision's appeal windows.
    outbox_linger_s: float = Field(0.2, ge=0, le=5)

    circuit_failure_threshold: int = Field(5, ge=1)
    circuit_open_s: float = Field(30.0, gt=0)
    circuit_max_open_s: float = Field(600.0, gt=0)

    delivery_enabled: bool = True
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_backoff_initial_s: float = Field(2.0, gt=0)
    delivery_backoff_max_s: float = Field(600.0, gt=0)
    delivery_timeout_s: float = Field(10.0, gt=0)
    # A claimed notification is someone's for this long; a worker that died mid-send
    # leaves it to be retried by another once the lease has run out.
    delivery_lease_s: float = Field(60.0, gt=0)
    delivery_batch_size: int = Field(25, ge=1)
    # Leased batches at the receivers at once (each sent concurrently): a backlog drains at
    # the receivers' pace, not at one batch's slowest send.
    delivery_rounds_in_flight: int = Field(2, ge=1)
    # Connections to each receiving origin. The HTTP client looks through all of its
    # connections on every request (py-spy: ~30 % of notify's CPU with one per possible send),
    # so sends beyond this wait for a free one, a wait not held against the receiver.
    # bench/bench_notify.py, 1,000 deliveries: 16 connections, batches of 25, 2 in flight
    # 151-153/s at 6.0-6.2 ms of CPU each; 204 connections, 50, 4: 81-122/s at 8.1-11.9 ms.
    delivery_connections: int = Field(16, ge=1)
    delivery_poll_interval_s: float = Field(2.0, gt=0)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_is_whsec(cls, value: str) -> str:
        try:
            secret_key(value)
        except InvalidSecret as exc:
            raise ValueError(f"WARDEN_NOTIFY_WEBHOOK_SECRET: {exc}") from None
        return value

    @model_validator(mode="after")
    def _endpoints_are_valid(self) -> NotifySettings:
        from warden.notify.domain.endpoints import EndpointKind, _url_problem

        for name, url, kind in (("WARDEN_NOTIFY_WEBHOOK_URL", self.webhook_url,
                                 EndpointKind.WEBHOOK),
                                ("WARDEN_NOTIFY_SMTP_URL", self.smtp_url, EndpointKind.EMAIL),
                                ("WARDEN_NOTIFY_TDB_URL", self.tdb_url,
                                 EndpointKind.TRANSPARENCY_DB)):
            problem = url and _url_problem(url, kind)
            if problem:
                raise ValueError(f"{name}: {problem}")
        if self.tdb_url and not self.tdb_token:
            raise ValueError("WARDEN_NOTIFY_TDB_TOKEN is needed with WARDEN_NOTIFY_TDB_URL")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> NotifySettings:
        # Every send leased at once may wait its turn for a connection, each turn up to a
        # timeout: the lease must outlast them all.
        turns = math.ceil(self.delivery_rounds_in_flight * self.delivery_batch_size
                          / self.delivery_connections)
        if self.delivery_lease_s <= self.delivery_timeout_s * turns:
            raise ValueError(
                f"delivery_lease_s must exceed delivery_timeout_s × {turns} (the sends in "
                "flight, delivery_rounds_in_flight × delivery_batch_size, take that many "
                "turns of delivery_connections), or a slow receiver would be sent the same "
                "webhook twice at once")
        return self
