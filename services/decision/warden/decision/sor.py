"""Statements of reasons (DSA Art. 17, 24(5)) in the Transparency Database's own JSON.

``build_statement`` maps a decision to the body ``POST /api/v1/statement`` accepts; the
rules it must pass are in ``warden.shared.contracts.transparency``. Statements are public:
nothing personal goes in (no reporter identity, no user ids, no free text beyond the facts
and reasoning the reviewer wrote for this purpose).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from warden.decision.catalogue import END_DATE_FIELD, Catalogue, PolicySpec
from warden.shared.contracts import transparency
from warden.shared.contracts.events import ActionTaken, Channel, PolicyGround, Subject
from warden.shared.errors import InvalidInput

# When several actions set the same single-valued field, the statement names the strongest.
_SEVERITY = {
    "decision_monetary": ("DECISION_MONETARY_OTHER", "DECISION_MONETARY_SUSPENSION",
                          "DECISION_MONETARY_TERMINATION"),
    "decision_provision": ("DECISION_PROVISION_PARTIAL_SUSPENSION",
                           "DECISION_PROVISION_TOTAL_SUSPENSION",
                           "DECISION_PROVISION_PARTIAL_TERMINATION",
                           "DECISION_PROVISION_TOTAL_TERMINATION"),
    "decision_account": ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"),
}
_CONTENT_TYPES = {
    "text": "CONTENT_TYPE_TEXT", "post": "CONTENT_TYPE_TEXT", "comment": "CONTENT_TYPE_TEXT",
    "message": "CONTENT_TYPE_TEXT", "image": "CONTENT_TYPE_IMAGE", "photo": "CONTENT_TYPE_IMAGE",
    "video": "CONTENT_TYPE_VIDEO", "livestream": "CONTENT_TYPE_VIDEO",
    "audio": "CONTENT_TYPE_AUDIO", "app": "CONTENT_TYPE_APP", "product": "CONTENT_TYPE_PRODUCT",
    "synthetic_media": "CONTENT_TYPE_SYNTHETIC_MEDIA",
}
_AUTOMATED_DECISION = {"fully": "AUTOMATED_DECISION_FULLY",
                       "partially": "AUTOMATED_DECISION_PARTIALLY",
                       "not_automated": "AUTOMATED_DECISION_NOT_AUTOMATED"}


def puid_for(decision_id: uuid.UUID) -> str:
    """Stable for the decision and never reused (decision ids are UUIDs)."""
    return f"warden-{decision_id}"


def source_type(channels: list[str]) -> str:
    """How the platform learnt of the content, strongest notice first."""
    if Channel.TRUSTED_FLAGGER.value in channels:
        return "SOURCE_TRUSTED_FLAGGER"
    if Channel.USER.value in channels or Channel.RIGHTS_HOLDER.value in channels:
        return "SOURCE_ARTICLE_16"
    if Channel.REGULATOR.value in channels or Channel.ADVERTISER.value in channels:
        return "SOURCE_TYPE_OTHER_NOTIFICATION"
    return "SOURCE_VOLUNTARY"


def content_type(subject: Subject) -> tuple[list[str], str | None]:
    if subject.type == "listing":
        return ["CONTENT_TYPE_PRODUCT"], None
    mapped = _CONTENT_TYPES.get((subject.content_type or "").lower())
    if mapped:
        return [mapped], None
    return ["CONTENT_TYPE_OTHER"], (subject.content_type or subject.type)[:500]


def territorial_scope(actions: list[ActionTaken]) -> list[str] | None:
    """The EU/EEA countries the restrictions apply in (the only ones the database takes); a
    restriction without a scope applies everywhere, so in all of them."""
    restricting = [a for a in actions if a.restricts]
    if any(not a.territorial_scope for a in restricting):
        return list(transparency.EUROPEAN_COUNTRY_CODES)
    codes = sorted({c for a in restricting for c in a.territorial_scope}
                   & set(transparency.EUROPEAN_COUNTRY_CODES))
    return codes or None


def restriction_fields(catalogue: Catalogue, actions: list[ActionTaken]) -> dict[str, object]:
    """decision_visibility (a list) and the single-valued monetary / provision / account
    fields, each with its end date (none when any measure of that kind is indefinite)."""
    fields: dict[str, object] = {}
    chosen: dict[str, list[ActionTaken]] = {}
    for action in actions:
        spec = catalogue.actions.get(action.code)
        if not action.restricts or spec is None or spec.sor is None:
            continue
        chosen.setdefault(spec.sor.field, []).append(action)
        if spec.sor.field == "decision_visibility":
            values = fields.setdefault("decision_visibility", [])
            if spec.sor.value not in values:
                values.append(spec.sor.value)
            if spec.sor.decision_visibility_other:
                fields["decision_visibility_other"] = spec.sor.decision_visibility_other
        else:
            current = fields.get(spec.sor.field)
            order = _SEVERITY[spec.sor.field]
            if current is None or order.index(spec.sor.value) > order.index(current):
                fields[spec.sor.field] = spec.sor.value
            if spec.sor.decision_monetary_other:
                fields["decision_monetary_other"] = spec.sor.decision_monetary_other
    for sor_field, group in chosen.items():
        ends = [a.ends_at for a in group]
        if all(ends):
            fields[END_DATE_FIELD[sor_field]] = transparency.format_date(max(ends).date())
    return fields


def ground_fields(spec: PolicySpec, ground: PolicyGround, reasoning: str) -> dict[str, str]:
    explanation = f"{spec.explanation} {reasoning}".strip()[:2000]
    if ground.ground == "illegal_content":
        fields = {"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                  "illegal_content_legal_ground": ground.legal_basis or "",
                  "illegal_content_explanation": explanation}
    else:
        fields = {"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                  "incompatible_content_ground": ground.clause or "",
                  "incompatible_content_explanation": explanation,
                  "incompatible_content_illegal": "Yes" if spec.also_illegal else "No"}
    if ground.reference_url:
        fields["decision_ground_reference_url"] = ground.reference_url
    return fields


def build_statement(catalogue: Catalogue, *, decision_id: uuid.UUID, subject: Subject,
                    actions: list[ActionTaken], policy: PolicySpec, ground: PolicyGround,
                    dsa_category: str, keywords: tuple[str, ...], facts: str, reasoning: str,
                    automated_detection: bool, automated_decision: str, channels: list[str],
                    content_date: datetime, application_date: datetime) -> dict[str, object]:
    """The statement of reasons for a restricting decision; ``InvalidInput`` (naming the
    statement's field) if the database would refuse it."""
    types, type_other = content_type(subject)
    statement: dict[str, object] = {
        **restriction_fields(catalogue, actions),
        **ground_fields(policy, ground, reasoning),
        "content_type": types,
        "category": policy.dsa_category or dsa_category,
        "decision_facts": facts[:transparency.LIMITS["decision_facts"]],
        "source_type": source_type(channels),
        "automated_detection": "Yes" if automated_detection else "No",
        "automated_decision": _AUTOMATED_DECISION[automated_decision],
        "content_date": transparency.format_date(min(content_date, application_date).date()),
        "application_date": transparency.format_date(application_date.date()),
        "puid": puid_for(decision_id),
    }
    if type_other:
        statement["content_type_other"] = type_other
    if keywords:
        statement["category_specification"] = list(keywords)
    if (scope := territorial_scope(actions)) is not None:
        statement["territorial_scope"] = scope
    language = (subject.language or "")[:2].upper()
    if language in transparency.LANGUAGES:
        statement["content_language"] = language
    if subject.type == "ad":
        statement["account_type"] = "ACCOUNT_TYPE_BUSINESS"  # advertisers act as businesses
    if problems := transparency.validate_statement(statement):
        raise InvalidInput(
            "the statement of reasons would be refused by the Transparency Database",
            errors=[{"field": f"statement_of_reasons.{name}", "message": "; ".join(messages),
                     "type": "transparency_database"} for name, messages in problems.items()])
    return statement
