"""How ``POST /api/v1/statement`` judges a statement: required and conditional fields of
each decision ground, enumerations, limits, identifiers and ``YYYY-MM-DD`` dates, answered
like the API's 422 body (``{field: [message, ...]}``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from warden.shared.contracts.transparency.vocabulary import (
    ACCOUNT_TYPES,
    AUTOMATED_DECISIONS,
    CONTENT_TYPES,
    DECISION_ACCOUNTS,
    DECISION_GROUNDS,
    DECISION_MONETARIES,
    DECISION_PROVISIONS,
    DECISION_VISIBILITIES,
    EUROPEAN_COUNTRY_CODES,
    KEYWORDS,
    LANGUAGES,
    LIMITS,
    SOURCE_TYPES,
    STATEMENT_CATEGORIES,
    YES_NO,
)

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
