"""The vocabulary every channel's request is written in: bounded text, URLs, country and
language codes, strict timestamps, and the reported item."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from warden.shared.contracts.taxonomy import CATEGORIES

MAX_LIST = 20

CategoryCode = StrEnum("CategoryCode", {code: code for code in CATEGORIES})
CategoryCode.__doc__ = "A category of the Warden taxonomy (each maps to a DSA category)."

# PostgreSQL text cannot hold NUL characters: refuse them here (a 422) rather than fail
# at the database (a 500).
NO_NUL = r"^[^\x00]*$"


def _text(min_length: int, max_length: int, pattern: str = NO_NUL) -> Any:
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=pattern)]


Identifier = _text(1, 200)
ExternalId = _text(1, 200, r"^[^\s\x00]+$")
Name = _text(1, 300)
ShortText = _text(1, 1000)
FreeText = _text(1, 5000)
Explanation = _text(1, 10_000)
Label = _text(1, 50)
HttpUrl = _text(8, 2048, r"^https?://[^\s\x00]+$")
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35,
                              description="BCP 47 language tag, e.g. de-DE")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="ISO 639 code")]
Score = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


def _iso_8601_only(value: Any) -> Any:
    # A bare number could be seconds or milliseconds: for a legal deadline, refuse to guess.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class SubjectType(StrEnum):
    CONTENT = "content"
    ACCOUNT = "account"
    AD = "ad"
    PAGE = "page"
    LISTING = "listing"
    MESSAGE = "message"


class ReportedItem(Strict):
    """The reported thing: a piece of content, an account, an ad, a page, a listing."""

    type: SubjectType
    id: Identifier
    url: HttpUrl | None = Field(None, description="exact location (required for DSA notices)")
    owner_id: Identifier | None = Field(None, description="account that owns the item")
    content_type: Label | None = Field(
        None, description="video, image, text, livestream, ...")
    language: Language | None = None


Jurisdictions = Annotated[list[CountryCode], Field(max_length=60)]
Evidence = Annotated[list[HttpUrl], Field(max_length=MAX_LIST,
                                          description="links to screenshots, archives, ...")]
