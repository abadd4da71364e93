"""What each kind of reporter sends: one request shape per channel, told apart by ``channel``.

The shapes validate types, lengths and formats only. Rules that span fields (the DSA
Art. 16 notice elements, EU territorial scope, "a score or a hash match") live in
``domain`` so that HTTP and ``reports.raw`` apply exactly the same ones.

Unknown fields are refused (a misspelt ``explanaton`` must not pass silently as a
notice without its explanation), and booleans and numbers are strict (``"yes"`` is not
a good-faith statement).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    TypeAdapter,
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


# --- user ---------------------------------------------------------------------------------

class UserReporter(Strict):
    account_id: Identifier
    name: Name | None = Field(None, description="required only for an illegal-content notice")
    email: EmailStr | None = Field(None, description="required only for an illegal-content "
                                                     "notice (except child sexual abuse)")


class UserReport(Strict):
    """An in-app report by a user of the platform."""

    channel: Literal["user"]
    client_report_id: ExternalId | None = Field(
        None, description="the reporting app's own id; a resend with it returns the first report")
    reporter: UserReporter
    content: ReportedItem
    reason: CategoryCode
    text: FreeText | None = Field(None, description="the reporter's own words")
    locale: Locale | None = None
    illegal_content: StrictBool = Field(
        False, description="the user states the content is illegal: a DSA Art. 16 notice, "
                           "which needs text, content.url, reporter name and email, and "
                           "good_faith_statement")
    legal_basis: ShortText | None = Field(None, description="the law the user believes broken")
    good_faith_statement: StrictBool | None = None
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []


# --- trusted flagger ----------------------------------------------------------------------

class TrustedFlagger(Strict):
    organisation: Name
    designation: Identifier | None = Field(
        None, description="the Digital Services Coordinator's designation reference")
    designating_country: CountryCode | None = None
    contact_name: Name | None = None
    contact_email: EmailStr | None = None


class TrustedFlaggerNotice(Strict):
    """A DSA Art. 22 notice: handled with priority, must carry the Art. 16 elements."""

    channel: Literal["trusted_flagger"]
    notice_id: ExternalId
    flagger: TrustedFlagger
    content: ReportedItem
    category: CategoryCode
    explanation: Explanation | None = Field(None, description="why the content is illegal")
    legal_basis: ShortText | None = None
    good_faith_statement: StrictBool | None = None
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []


# --- regulator ----------------------------------------------------------------------------

class OrderType(StrEnum):
    REMOVAL_ORDER = "removal_order"
    TERRORIST_CONTENT_REMOVAL_ORDER = "terrorist_content_removal_order"
    COURT_ORDER = "court_order"


class Authority(Strict):
    name: Name
    country: CountryCode
    contact_email: EmailStr | None = None


class RegulatorOrder(Strict):
    """An order of an authority or court (DSA Art. 9, Regulation (EU) 2021/784, court orders)."""

    channel: Literal["regulator"]
    order_reference: ExternalId
    order_type: OrderType
    authority: Authority
    legal_basis: ShortText
    territorial_scope: Annotated[list[CountryCode], Field(
        min_length=1, max_length=30, description="EU member states where the order applies")]
    content: ReportedItem
    category: CategoryCode | None = Field(None, description="defaults from the order type")
    explanation: Explanation | None = Field(None, description="the order's statement of reasons")
    issued_at: Timestamp | None = None
    deadline: Timestamp | None = Field(
        None, description="when absent, a terrorist-content removal order is due one hour "
                          "after receipt")
    evidence: Evidence = []


# --- rights holder ------------------------------------------------------------------------

class RightType(StrEnum):
    COPYRIGHT = "copyright"
    TRADEMARK = "trademark"
    COUNTERFEIT = "counterfeit"


class RightsHolder(Strict):
    name: Name
    email: EmailStr | None = None
    representative: Name | None = Field(None, description="agent filing for the holder")


class Right(Strict):
    type: RightType
    work: ShortText = Field(description="the protected work or mark")
    registration_number: Identifier | None = None
    original_url: HttpUrl | None = None


class RightsHolderNotice(Strict):
    """A copyright, trademark or counterfeit notice (a DSA Art. 16 notice)."""

    channel: Literal["rights_holder"]
    notice_id: ExternalId
    rights_holder: RightsHolder
    right: Right
    content: ReportedItem
    explanation: Explanation | None = None
    sworn_statement: StrictBool | None = Field(
        None, description="the notice is accurate and made in good faith")
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []


# --- advertiser ---------------------------------------------------------------------------

class Concern(StrEnum):
    MISAPPLIED = "misapplied"
    VIOLATED = "violated"


class ImpactLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Advertiser(Strict):
    account_id: Identifier
    name: Name | None = None
    contact_email: EmailStr | None = None


class BusinessImpact(Strict):
    level: ImpactLevel
    description: ShortText | None = None
    daily_spend_at_risk: Annotated[float, Field(ge=0, le=1e12, strict=True)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None


class AdvertiserEscalation(Strict):
    """A business partner's escalation about an ad or page."""

    channel: Literal["advertiser"]
    escalation_id: ExternalId | None = None
    advertiser: Advertiser
    content: ReportedItem
    policy: ShortText = Field(description="the policy believed misapplied or violated")
    concern: Concern
    category: CategoryCode | None = Field(
        None, description="required when concern is 'violated'")
    business_impact: BusinessImpact
    text: FreeText | None = None


# --- automated ----------------------------------------------------------------------------

class Detector(Strict):
    name: Identifier
    version: Label


class HashMatch(Strict):
    hash_list: Identifier = Field(description="the list matched, e.g. a hash-sharing database")
    algorithm: Label = Field(
        description="pdq, pdna, md5, ...")
    reference: Identifier = Field(description="the matched entry")


class AutomatedSignal(Strict):
    """A classifier score or hash match (needs at least one of ``score`` and ``match``)."""

    channel: Literal["automated"]
    signal_id: ExternalId | None = None
    detector: Detector
    content: ReportedItem
    category: CategoryCode
    score: Score | None = None
    threshold: Score | None = None
    match: HashMatch | None = None


ChannelReport = (UserReport | TrustedFlaggerNotice | RegulatorOrder | RightsHolderNotice
                 | AdvertiserEscalation | AutomatedSignal)
ReportRequest = Annotated[ChannelReport, Field(discriminator="channel")]

REPORT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ReportRequest)


def external_id(report: ChannelReport) -> str | None:
    """The channel's own identifier of the report: the same one twice is the same report."""
    match report:
        case UserReport():
            return report.client_report_id
        case TrustedFlaggerNotice() | RightsHolderNotice():
            return report.notice_id
        case RegulatorOrder():
            return report.order_reference
        case AdvertiserEscalation():
            return report.escalation_id
        case AutomatedSignal():
            return report.signal_id
    raise TypeError(f"not a channel report: {type(report).__name__}")
