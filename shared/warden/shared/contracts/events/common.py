"""What every event speaks of: the channel a report came by, the subject, the base of
every payload."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    USER = "user"
    TRUSTED_FLAGGER = "trusted_flagger"
    REGULATOR = "regulator"
    RIGHTS_HOLDER = "rights_holder"
    ADVERTISER = "advertiser"
    AUTOMATED = "automated"


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Subject(Payload):
    """What a report, case or decision is about: a piece of content, an account, an ad."""

    type: str = Field(description="content, account, ad, page, ...")
    id: str = Field(min_length=1)
    url: str | None = None
    owner_id: str | None = None
    content_type: str | None = None
    language: str | None = None
