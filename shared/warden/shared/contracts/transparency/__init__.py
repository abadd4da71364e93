"""The DSA Transparency Database's statement-of-reasons format and its validation rules.

Pure data and functions, no I/O: the decision service builds statements with them, and a
stand-in of the database API (tests, ``make run``) applies the same rules. Transcribed from
the database's own source (github.com/digital-services-act/transparency-database, 2025:
``app/Http/Requests/StatementStoreRequest.php``, ``app/Models/Statement.php``,
``app/Services/EuropeanCountriesService.php``, ``EuropeanLanguagesService.php``), which is
what ``POST /api/v1/statement`` enforces: field names, enum spellings, the conditional fields
of each decision ground, text limits and ``YYYY-MM-DD`` dates. ``validate_statement`` answers
like the API's 422 body: ``{field: [message, ...]}``.

``vocabulary`` holds what the database accepts, ``validation`` how it judges a statement.
"""

from __future__ import annotations

from warden.shared.contracts.transparency.validation import format_date, validate_statement
from warden.shared.contracts.transparency.vocabulary import (
    DECISION_VISIBILITIES,
    DECISION_MONETARIES,
    DECISION_PROVISIONS,
    DECISION_ACCOUNTS,
    ACCOUNT_TYPES,
    DECISION_GROUNDS,
    YES_NO,
    CONTENT_TYPES,
    STATEMENT_CATEGORIES,
    KEYWORDS,
    SOURCE_TYPES,
    AUTOMATED_DECISIONS,
    EUROPEAN_COUNTRY_CODES,
    LANGUAGES,
    LIMITS,
)

__all__ = [
    "DECISION_VISIBILITIES",
    "DECISION_MONETARIES",
    "DECISION_PROVISIONS",
    "DECISION_ACCOUNTS",
    "ACCOUNT_TYPES",
    "DECISION_GROUNDS",
    "YES_NO",
    "CONTENT_TYPES",
    "STATEMENT_CATEGORIES",
    "KEYWORDS",
    "SOURCE_TYPES",
    "AUTOMATED_DECISIONS",
    "EUROPEAN_COUNTRY_CODES",
    "LANGUAGES",
    "LIMITS",
    "format_date", "validate_statement",
]
