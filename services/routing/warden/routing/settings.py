from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from warden.routing.policy import DEFAULT_POLICY_PATH
from warden.shared.lease_tokens import DEV_SIGNING_KEY
from warden.shared.settings import LOCAL_PG, ServiceSettings


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_ROUTING_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "routing"

    database_url: str = f"{LOCAL_PG}/warden_routing"
    port: int = 8002
    # Reports are routed a run at a time with a fixed handful of statements: longer runs,
    # fewer statements per report.
    consumer_batch_size: int = Field(500, ge=1)

    policy_path: Path = Field(DEFAULT_POLICY_PATH,
                              description="routing policy YAML; re-read on reload and SIGHUP")
    reload_on_sighup: bool = True

    lease_seconds: int = Field(900, ge=1, description="default length of a reviewer's lease")
    max_lease_seconds: int = Field(4 * 3600, ge=1)
    lease_signing_key: str = Field(
        DEV_SIGNING_KEY, repr=False,
        description="Ed25519 private key (PEM) that signs the lease tokens decision verifies")
    lease_sweep_interval_s: float = Field(5.0, gt=0,
                                          description="how often expired leases are returned")

    sla_at_risk_margin_s: float = Field(
        900.0, ge=0, description="a case is at risk this long before its due time")
    sla_check_interval_s: float = Field(5.0, gt=0)
    sla_batch_size: int = Field(200, ge=1)

    routed_event_max_report_ids: int = Field(
        1000, ge=1, description="report ids carried in one cases.routed event (report_count "
                                "always has the full number); keeps events far below Kafka's "
                                "message size limit when a subject draws thousands of reports")
