"""The DSA Transparency Database's statement-of-reasons format and its validation rules.

Pure data and functions, no I/O: the decision service builds statements with them, and a
stand-in of the database API (tests, ``make run``) applies the same rules. Transcribed from
the database's own source (github.com/digital-services-act/transparency-database, 2025:
``app/Http/Requests/StatementStoreRequest.php``, ``app/Models/Statement.php``,
``app/Services/EuropeanCountriesService.php``, ``EuropeanLanguagesService.php``), which is
what ``POST /api/v1/statement`` enforces: field names, enum spellings, the conditional fields
of each decision ground, text limits and ``YYYY-MM-DD`` dates. ``validate_statement`` answers
like the API's 422 body: ``{field: [message, ...]}``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

DECISION_VISIBILITIES = (
    "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER")
DECISION_MONETARIES = ("DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION",
                       "DECISION_MONETARY_OTHER")
DECISION_PROVISIONS = ("DECISION_PROVISION_PARTIAL_SUSPENSION",
                       "DECISION_PROVISION_TOTAL_SUSPENSION",
                       "DECISION_PROVISION_PARTIAL_TERMINATION",
                       "DECISION_PROVISION_TOTAL_TERMINATION")
DECISION_ACCOUNTS = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPES = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
DECISION_GROUNDS = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")
YES_NO = ("Yes", "No")  # automated_detection and incompatible_content_illegal
CONTENT_TYPES = ("CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE",
                 "CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT",
                 "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER")
STATEMENT_CATEGORIES = (
    "STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE", "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", "STATEMENT_CATEGORY_VIOLENCE")
KEYWORDS = (
    "KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS", "KEYWORD_ANIMAL_HARM",
    "KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_COORDINATED_HARM",
    "KEYWORD_COPYRIGHT_INFRINGEMENT", "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_CYBER_HARASSMENT", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING", "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_DATA_FALSIFICATION", "KEYWORD_DEFAMATION", "KEYWORD_DESIGN_INFRINGEMENT",
    "KEYWORD_DISCRIMINATION", "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
    "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT", "KEYWORD_GEOGRAPHICAL_REQUIREMENTS",
    "KEYWORD_GOODS_SERVICES_NOT_PERMITTED", "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_HATE_SPEECH", "KEYWORD_HIDDEN_ADVERTISEMENT", "KEYWORD_HUMAN_EXPLOITATION",
    "KEYWORD_HUMAN_TRAFFICKING", "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS",
    "KEYWORD_INAUTHENTIC_LISTINGS", "KEYWORD_INAUTHENTIC_USER_REVIEWS",
    "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS", "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN", "KEYWORD_NONCOMPLIANCE_PRICING",
    "KEYWORD_NUDITY", "KEYWORD_PATENT_INFRINGEMENT", "KEYWORD_PHISHING",
    "KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_PYRAMID_SCHEMES", "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE", "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_SELF_MUTILATION",
    "KEYWORD_STALKING", "KEYWORD_SUICIDE", "KEYWORD_TRADE_SECRET_INFRINGEMENT",
    "KEYWORD_TRADEMARK_INFRINGEMENT", "KEYWORD_TRAFFICKING_WOMEN_GIRLS",
    "KEYWORD_TERRORIST_CONTENT", "KEYWORD_UNLAWFUL_SALE_ANIMALS", "KEYWORD_UNSAFE_CHALLENGES",
    "KEYWORD_UNSAFE_PRODUCTS", "KEYWORD_VIOLATION_EU_LAW", "KEYWORD_VIOLATION_NATIONAL_LAW",
    "KEYWORD_OTHER")
SOURCE_TYPES = ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
                "SOURCE_VOLUNTARY")
AUTOMATED_DECISIONS = ("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY",
                       "AUTOMATED_DECISION_NOT_AUTOMATED")
# EU and EEA member states: the only territorial scope the database accepts.
EUROPEAN_COUNTRY_CODES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK")
LANGUAGES = (
    "AB", "AA", "AF", "AK", "SQ", "AM", "AR", "AN", "HY", "AS", "AV", "AE", "AY", "AZ", "BM",
    "BA", "EU", "BE", "BN", "BH", "BI", "BS", "BR", "BG", "MY", "CA", "KM", "CH", "CE", "NY",
    "ZH", "CU", "CV", "KW", "CO", "CR", "HR", "CS", "DA", "DV", "NL", "DZ", "EN", "EO", "ET",
    "EE", "FO", "FJ", "FI", "FR", "FF", "GD", "GL", "LG", "KA", "DE", "KI", "EL", "KL", "GN",
    "GU", "HT", "HA", "HE", "HZ", "HI", "HO", "HU", "IS", "IO", "IG", "ID", "IA", "IE", "IU",
    "IK", "GA", "IT", "JA", "JV", "KN", "KR", "KS", "KK", "RW", "KV", "KG", "KO", "KJ", "KU",
    "KY", "LO", "LA", "LV", "LB", "LI", "LN", "LT", "LU", "MK", "MG", "MS", "ML", "MT", "GV",
    "MI", "MR", "MH", "RO", "MN", "NA", "NV", "ND", "NG", "NE", "SE", "NO", "NB", "NN", "II",
    "OC", "OJ", "OR", "OM", "OS", "PI", "PA", "PS", "FA", "PL", "PT", "QU", "RM", "RN", "RU",
    "SM", "SG", "SA", "SC", "SR", "SN", "SD", "SI", "SK", "SL", "SO", "ST", "NR", "ES", "SU",
    "SW", "SS", "SV", "TL", "TY", "TG", "TA", "TT", "TE", "TH", "BO", "TI", "TO", "TS", "TN",
    "TR", "TK", "TW", "UG", "UK", "UR", "UZ", "VE", "VI", "VO", "WA", "CY", "FY", "WO", "XH",
    "YI", "YO", "ZA", "ZU")

# Text limits (characters).
LIMITS = {
    "decision_visibility_other": 500, "decision_monetary_other": 500,
    "category_specification_other": 500, "decision_ground_reference_url": 500,
    "illegal_content_legal_ground": 500, "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500, "incompatible_content_explanation": 2000,
    "content_type_other": 500, "decision_facts": 5000, "source_identity": 500, "puid": 500,
}
PUID_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]+$")
EAN13_PATTERN = re.compile(r"^[0-9]{13}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# field -> (earliest, latest) accepted date
DATE_RANGES: dict[str, tuple[date | None, date]] = {
    "content_date": (date(2000, 1, 1), date(2038, 1, 1)),
    "application_date": (date(2020, 1, 1), date(2038, 1, 1)),
    "end_date_account_restriction": (None, date(2038, 1, 1)),
    "end_date_monetary_restriction": (None, date(2038, 1, 1)),
    "end_date_service_restriction": (None, date(2038, 1, 1)),
    "end_date_visibility_restriction": (None, date(2038, 1, 1)),
}
REQUIRED_DATES = ("content_date", "application_date")
RESTRICTION_FIELDS = ("decision_visibility", "decision_monetary", "decision_provision",
                      "decision_account")
ILLEGAL_GROUND_FIELDS = ("illegal_content_legal_ground", "illegal_content_explanation")
INCOMPATIBLE_GROUND_FIELDS = ("incompatible_content_ground", "incompatible_content_explanation")


def format_date(day: date) -> str:
    """The database's date format: ``YYYY-MM-DD``."""
    return day.strftime("%Y-%m-%d")


def validate_statement(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Every problem the database would report for this ``POST /api/v1/statement`` body,
    as ``{field: [message]}``; empty when it would be accepted (201)."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    def present(field: str) -> bool:
        value = doc.get(field)
        return value not in (None, "", [])

    _restrictions(doc, present, fail)
    _ground(doc, present, fail)
    _one_of(doc, "account_type", ACCOUNT_TYPES, fail)
    _list_of(doc, "category_specification", KEYWORDS, fail)
    if not present("category"):
        fail("category", "The category field is required.")
    else:
        _one_of(doc, "category", STATEMENT_CATEGORIES, fail)
    _list_of(doc, "category_addition", STATEMENT_CATEGORIES, fail)
    if not present("content_type"):
        fail("content_type", "The content type field is required.")
    else:
        _list_of(doc, "content_type", CONTENT_TYPES, fail)
        if "CONTENT_TYPE_OTHER" in (doc.get("content_type") or []) \
                and not present("content_type_other"):
            fail("content_type_other", "The content type other field is required when content "
                                       "is other.")
    _list_of(doc, "territorial_scope", EUROPEAN_COUNTRY_CODES, fail)
    _one_of(doc, "content_language", LANGUAGES, fail)
    _dates(doc, present, fail)
    if not present("decision_facts"):
        fail("decision_facts", "The decision facts field is required.")
    if not present("source_type"):
        fail("source_type", "The source type field is required.")
    else:
        _one_of(doc, "source_type", SOURCE_TYPES, fail)
    if not present("automated_detection"):
        fail("automated_detection", "The automated detection field is required.")
    elif doc["automated_detection"] not in YES_NO:
        fail("automated_detection", "The selected automated detection is invalid.")
    if not present("automated_decision"):
        fail("automated_decision", "The automated decision field is required.")
    else:
        _one_of(doc, "automated_decision", AUTOMATED_DECISIONS, fail)
    if not present("puid"):
        fail("puid", "The puid field is required.")
    elif not isinstance(doc["puid"], str) or not PUID_PATTERN.match(doc["puid"]):
        fail("puid", "The puid format is invalid.")
    content_id = doc.get("content_id")
    if content_id is not None:
        if not isinstance(content_id, dict):
            fail("content_id", "The content id field must be an array.")
        elif "EAN-13" in content_id and not EAN13_PATTERN.match(str(content_id["EAN-13"])):
            fail("content_id.EAN-13", "The content id.EAN-13 field format is invalid.")
    for field, limit in LIMITS.items():
        value = doc.get(field)
        if isinstance(value, str) and len(value) > limit:
            fail(field, f"The {field.replace('_', ' ')} field must not be greater than {limit} "
                        f"characters.")
    return errors


def _restrictions(doc, present, fail) -> None:
    if not any(present(f) for f in RESTRICTION_FIELDS):
        for field in RESTRICTION_FIELDS:
            others = " / ".join(f.replace("_", " ") for f in RESTRICTION_FIELDS if f != field)
            fail(field, f"The {field.replace('_', ' ')} field is required when none of "
                        f"{others} are present.")
    visibility = doc.get("decision_visibility")
    if visibility is not None:
        if not isinstance(visibility, list):
            fail("decision_visibility", "The decision visibility field must be an array.")
        else:
            _list_of(doc, "decision_visibility", DECISION_VISIBILITIES, fail)
            if "DECISION_VISIBILITY_OTHER" in visibility and not present(
                    "decision_visibility_other"):
                fail("decision_visibility_other", "The decision visibility other field is "
                                                  "required when decision visibility is other.")
    _one_of(doc, "decision_monetary", DECISION_MONETARIES, fail)
    if doc.get("decision_monetary") == "DECISION_MONETARY_OTHER" and not present(
            "decision_monetary_other"):
        fail("decision_monetary_other", "The decision monetary other field is required when "
                                        "decision monetary is other.")
    _one_of(doc, "decision_provision", DECISION_PROVISIONS, fail)
    _one_of(doc, "decision_account", DECISION_ACCOUNTS, fail)


def _ground(doc, present, fail) -> None:
    ground = doc.get("decision_ground")
    if not present("decision_ground"):
        fail("decision_ground", "The decision ground field is required.")
        return
    if ground not in DECISION_GROUNDS:
        fail("decision_ground", "The selected decision ground is invalid.")
        return
    needed = ILLEGAL_GROUND_FIELDS if ground == "DECISION_GROUND_ILLEGAL_CONTENT" \
        else INCOMPATIBLE_GROUND_FIELDS
    label = "illegal content" if ground == "DECISION_GROUND_ILLEGAL_CONTENT" \
        else "incompatible content"
    for field in needed:
        if not present(field):
            fail(field, f"The {field.replace('_', ' ')} field is required when decision ground "
                        f"is {label}.")
    if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        _one_of(doc, "incompatible_content_illegal", YES_NO, fail)
    url = doc.get("decision_ground_reference_url")
    if url not in (None, "") and not (isinstance(url, str)
                                      and re.match(r"^https?://[^\s/$.?#].[^\s]*$", url)):
        fail("decision_ground_reference_url", "The decision ground reference url field must "
                                              "be a valid URL.")


def _dates(doc, present, fail) -> None:
    application = None
    for field, (earliest, latest) in DATE_RANGES.items():
        if not present(field):
            if field in REQUIRED_DATES:
                fail(field, f"The {field.replace('_', ' ')} field is required.")
            continue
        value = doc[field]
        day = _parse_date(value)
        if day is None:
            fail(field, f"The {field.replace('_', ' ')} does not match the format YYYY-MM-DD.")
            continue
        if earliest and day < earliest:
            fail(field, f"The {field.replace('_', ' ')} field must be a date after or equal to "
                        f"{format_date(earliest)}.")
        if day > latest:
            fail(field, f"The {field.replace('_', ' ')} field must be a date before or equal to "
                        f"{format_date(latest)}.")
        if field == "application_date":
            application = day
    if application is not None:
        for field in DATE_RANGES:
            if field.startswith("end_date_") and present(field):
                day = _parse_date(doc[field])
                if day is not None and day < application:
                    fail(field, f"The {field.replace('_', ' ')} must be after or equal to the "
                                f"application date.")


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE_PATTERN.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _one_of(doc, field: str, allowed: tuple[str, ...], fail) -> None:
    value = doc.get(field)
    if value is not None and value not in allowed:
        fail(field, f"The selected {field.replace('_', ' ')} is invalid.")


def _list_of(doc, field: str, allowed: tuple[str, ...], fail) -> None:
    value = doc.get(field)
    if value is None:
        return
    if not isinstance(value, list):
        fail(field, f"The {field.replace('_', ' ')} field must be an array.")
        return
    if any(item not in allowed for item in value):
        fail(field, f"The selected {field.replace('_', ' ')} is invalid.")
