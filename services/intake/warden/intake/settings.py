from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from warden.shared.apikeys.settings import ApiKeySettings
from warden.shared.settings import LOCAL_PG


class IntakeSettings(ApiKeySettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_INTAKE_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "intake"

    database_url: str = f"{LOCAL_PG}/warden_intake"
    port: int = 8001

    # A full batch of 500 ordinary reports is well under 1 MiB; 4 MiB leaves room for long
    # explanations while still bounding what one request can make the worker buffer.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024,
                                description="larger request bodies are refused with 413")
    fast_submit: bool = Field(True, description=(
        "serve POST /v1/reports by the lean ASGI handler (fast_submit.py); false: through "
        "the FastAPI route, with the same answers"))
    # Group commit of POST /v1/reports (submissions.py): statements under way at once, and
    # the most reports one of them carries. An idle service sends each report alone.
    submit_in_flight: int = Field(4, ge=1, description=(
        "statements of concurrent single submissions under way at once (each on its own "
        "connection, at most db_pool_size)"))
    submit_batch_size: int = Field(64, ge=1, description=(
        "the most concurrent single submissions stored by one statement"))
