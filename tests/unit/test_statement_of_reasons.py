"""Statements of reasons in the Transparency Database's format: one test per action, per
ground, and the database's own validation rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from warden.decision import domain, sor
from warden.decision.catalogue import load_catalogue
from warden.decision.domain import ActionRequest
from warden.shared.contracts import transparency
from warden.shared.contracts.events import Subject
from warden.shared.errors import InvalidInput

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
POST = Subject(type="content", id="post-1", owner_id="acct-1", content_type="video",
               language="de")
AD = Subject(type="ad", id="ad-1", owner_id="adv-1", content_type="image")
LATER = NOW + timedelta(days=10)


def statement(*requests, subject=POST, policy="CS-HATE-1", channels=("user",), **kwargs):
    actions = domain.plan_actions(CATALOGUE, subject, list(requests), default_scope=[],
                                  now=NOW, active_strikes=0)
    spec, ground = domain.cite_policy(CATALOGUE, policy)
    arguments = dict(decision_id=uuid.UUID(int=7), subject=subject, actions=actions,
                     policy=spec, ground=ground,
                     dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
                     keywords=("KEYWORD_HATE_SPEECH",), facts="Facts.", reasoning="Because.",
                     automated_detection=False, automated_decision="not_automated",
                     channels=list(channels), content_date=NOW - timedelta(days=2),
                     application_date=NOW)
    arguments.update(kwargs)
    built = sor.build_statement(CATALOGUE, **arguments)
    assert transparency.validate_statement(built) == {}
    return built


# One per restricting action: the field and value it sets, and its end date.
@pytest.mark.parametrize(("request_", "subject", "expected"), [
    (ActionRequest("remove"), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]}),
    (ActionRequest("disable_in_territories", territorial_scope=["DE", "US"]), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
      "territorial_scope": ["DE"]}),
    (ActionRequest("age_restrict"), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"]}),
    (ActionRequest("demote", ends_at=LATER), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED"],
      "end_date_visibility_restriction": "2026-12-05"}),
    (ActionRequest("label"), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_LABELLED"]}),
    (ActionRequest("restrict_interaction"), POST,
     {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED"]}),
    (ActionRequest("suspend_monetisation", ends_at=LATER), POST,
     {"decision_monetary": "DECISION_MONETARY_SUSPENSION",
      "end_date_monetary_restriction": "2026-12-05"}),
    (ActionRequest("terminate_monetisation"), POST,
     {"decision_monetary": "DECISION_MONETARY_TERMINATION"}),
    (ActionRequest("suspend_service_partially", ends_at=LATER), POST,
     {"decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION",
      "end_date_service_restriction": "2026-12-05"}),
    (ActionRequest("suspend_service_totally", ends_at=LATER), POST,
     {"decision_provision": "DECISION_PROVISION_TOTAL_SUSPENSION"}),
    (ActionRequest("terminate_service_partially"), POST,
     {"decision_provision": "DECISION_PROVISION_PARTIAL_TERMINATION"}),
    (ActionRequest("terminate_service_totally"), POST,
     {"decision_provision": "DECISION_PROVISION_TOTAL_TERMINATION"}),
    (ActionRequest("account_suspend", ends_at=LATER), POST,
     {"decision_account": "DECISION_ACCOUNT_SUSPENDED",
      "end_date_account_restriction": "2026-12-05"}),
    (ActionRequest("account_terminate"), POST,
     {"decision_account": "DECISION_ACCOUNT_TERMINATED"}),
    (ActionRequest("disapprove_ad"), AD,
     {"decision_visibility": ["DECISION_VISIBILITY_OTHER"],
      "decision_visibility_other": "Advertisement disapproved and not shown",
      "account_type": "ACCOUNT_TYPE_BUSINESS"}),
    (ActionRequest("restrict_advertiser"), AD,
     {"decision_provision": "DECISION_PROVISION_PARTIAL_SUSPENSION"}),
], ids=lambda value: value.code if isinstance(value, ActionRequest) else None)
def test_each_restricting_action_maps_to_its_field(request_, subject, expected):
    built = statement(request_, subject=subject,
                      policy="AD-MISLEADING-1" if subject is AD else "CS-HATE-1")
    for name, value in expected.items():
        assert built[name] == value
    assert built["puid"] == f"warden-{uuid.UUID(int=7)}"


def test_every_restricting_catalogue_action_is_covered_above():
    restricting = {c for c, s in CATALOGUE.actions.items() if s.restricts}
    covered = {"remove", "disable_in_territories", "age_restrict", "demote", "label",
               "restrict_interaction", "suspend_monetisation", "terminate_monetisation",
               "suspend_service_partially", "suspend_service_totally",
               "terminate_service_partially", "terminate_service_totally", "account_suspend",
               "account_terminate", "disapprove_ad", "restrict_advertiser"}
    assert restricting == covered


def test_non_restricting_actions_add_nothing_to_the_statement():
    built = statement(ActionRequest("remove"), ActionRequest("strike"),
                      ActionRequest("refer_law_enforcement"))
    assert built["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert not any(k in built for k in ("decision_account", "decision_provision"))


def test_strongest_of_one_kind_and_indefinite_end_dates():
    built = statement(ActionRequest("account_suspend", ends_at=LATER),
                      ActionRequest("account_terminate"), ActionRequest("remove"))
    assert built["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    assert "end_date_account_restriction" not in built  # termination is indefinite


def test_illegal_content_ground():
    built = statement(ActionRequest("remove"), policy="CSE-1",
                      dsa_category="STATEMENT_CATEGORY_PROTECTION_OF_MINORS")
    assert built["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert built["illegal_content_legal_ground"].startswith("Directive 2011/93/EU")
    assert built["illegal_content_explanation"].endswith("Because.")
    assert "incompatible_content_ground" not in built
    assert built["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"


def test_incompatible_content_ground():
    built = statement(ActionRequest("remove"), policy="CS-SCAM-1")
    assert built["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert built["incompatible_content_ground"].startswith("Community Standards 5.1")
    assert built["incompatible_content_illegal"] == "Yes"
    assert "illegal_content_legal_ground" not in built


def test_common_fields():
    built = statement(ActionRequest("remove"), channels=("trusted_flagger", "user"),
                      automated_detection=True, automated_decision="partially")
    assert (built["source_type"], built["automated_detection"], built["automated_decision"]) \
        == ("SOURCE_TRUSTED_FLAGGER", "Yes", "AUTOMATED_DECISION_PARTIALLY")
    assert (built["content_type"], built["content_language"]) == (["CONTENT_TYPE_VIDEO"], "DE")
    assert (built["content_date"], built["application_date"]) == ("2026-11-23", "2026-11-25")
    assert built["territorial_scope"] == list(transparency.EUROPEAN_COUNTRY_CODES)
    assert built["category_specification"] == ["KEYWORD_HATE_SPEECH"]
    other = statement(ActionRequest("remove"),
                      subject=Subject(type="content", id="p", content_type="hologram"),
                      channels=("automated",))
    assert (other["content_type"], other["content_type_other"], other["source_type"]) == \
        (["CONTENT_TYPE_OTHER"], "hologram", "SOURCE_VOLUNTARY")


def test_a_statement_the_database_would_refuse_is_not_built():
    with pytest.raises(InvalidInput) as err:
        statement(ActionRequest("remove"), application_date=datetime(2019, 5, 1, tzinfo=UTC))
    assert err.value.errors[0]["field"] == "statement_of_reasons.application_date"


# --- the database's rules -----------------------------------------------------------------------

def valid() -> dict:
    return statement(ActionRequest("remove"))


@pytest.mark.parametrize(("change", "field"), [
    ({"decision_visibility": None}, "decision_account"),
    ({"decision_visibility": ["DECISION_VISIBILITY_HIDDEN"]}, "decision_visibility"),
    ({"decision_visibility": ["DECISION_VISIBILITY_OTHER"]}, "decision_visibility_other"),
    ({"decision_monetary": "DECISION_MONETARY_OTHER"}, "decision_monetary_other"),
    ({"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"}, "illegal_content_legal_ground"),
    ({"incompatible_content_explanation": None}, "incompatible_content_explanation"),
    ({"incompatible_content_illegal": "Maybe"}, "incompatible_content_illegal"),
    ({"category": "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"}, "category"),
    ({"category_specification": ["KEYWORD_NOPE"]}, "category_specification"),
    ({"territorial_scope": ["US"]}, "territorial_scope"),
    ({"content_language": "XX"}, "content_language"),
    ({"content_date": "25/11/2026"}, "content_date"),
    ({"content_date": "1999-12-31"}, "content_date"),
    ({"application_date": "2038-01-02"}, "application_date"),
    ({"end_date_visibility_restriction": "2026-11-01"}, "end_date_visibility_restriction"),
    ({"decision_facts": "x" * 5001}, "decision_facts"),
    ({"incompatible_content_explanation": "x" * 2001}, "incompatible_content_explanation"),
    ({"source_type": "SOURCE_RUMOUR"}, "source_type"),
    ({"automated_detection": "yes"}, "automated_detection"),
    ({"automated_decision": "AUTOMATED_DECISION_MAYBE"}, "automated_decision"),
    ({"puid": "has space"}, "puid"),
    ({"puid": "x" * 501}, "puid"),
    ({"content_type": ["CONTENT_TYPE_OTHER"]}, "content_type_other"),
    ({"content_id": {"EAN-13": "123"}}, "content_id.EAN-13"),
    ({"decision_ground_reference_url": "not a url"}, "decision_ground_reference_url"),
])
def test_validation_rules_of_the_database(change, field):
    document = {**valid(), **change}
    assert field in transparency.validate_statement(document)


def test_an_empty_body_lists_the_required_fields():
    problems = transparency.validate_statement({})
    assert {"decision_visibility", "decision_monetary", "decision_provision",
            "decision_account", "decision_ground", "content_type", "category",
            "content_date", "application_date", "decision_facts", "source_type",
            "automated_detection", "automated_decision", "puid"} <= set(problems)
