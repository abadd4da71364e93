"""Intake normalisation and legal rules, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from warden.intake.channels import REPORT_ADAPTER
from warden.intake.domain import (
    ReportStatus,
    fingerprint,
    normalize,
    problems_of,
    report_status,
)
from warden.intake.examples import EXAMPLES, example
from warden.shared.contracts.events import Channel
from warden.shared.errors import InvalidInput

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CLIENT = "6f1c5d9e-1111-4222-8333-944445555666"


def parse(body: dict):
    return REPORT_ADAPTER.validate_python(body)


def run(body: dict):
    return normalize(parse(body), report_id=uuid.uuid4(), client_id=CLIENT, received_at=NOW)


def fields_of(exc: InvalidInput) -> set[str]:
    return {e["field"] for e in exc.errors}


@pytest.mark.parametrize("channel", sorted(EXAMPLES))
def test_every_channel_example_normalises_to_the_canonical_report(channel):
    report = run(example(channel))
    assert report.channel == Channel(channel)
    assert report.client_id == CLIENT
    assert report.received_at == NOW
    assert report.subject.id == EXAMPLES[channel]["content"]["id"]
    assert report.dsa_category.startswith("STATEMENT_CATEGORY_")
    assert report.reporter.kind == Channel(channel)


def test_user_report_keeps_account_reason_text_and_locale_but_no_identity():
    body = example("user")
    body["reporter"].update(name="Erika Mustermann", email="erika@example.org")
    report = run(body)
    assert report.reporter.id == "user-4821"
    assert report.reporter.name is None and report.reporter.email is None
    assert (report.category, report.policy_area) == ("hate_speech", "community_standards")
    assert report.dsa_category == "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    assert report.text == "This post attacks people for their religion."
    assert report.locale == "de-DE"
    assert report.illegal_content_notice is False
    assert report.external_id is None
    assert report.subject.url == "https://social.example/p/99812"


def illegal_user_notice() -> dict:
    body = example("user")
    body.update(illegal_content=True, good_faith_statement=True, legal_basis="§ 130 StGB")
    body["reporter"].update(name="Erika Mustermann", email="erika@example.org")
    return body


def test_user_illegal_content_notice_keeps_the_notifier_identity():
    report = run(illegal_user_notice())
    assert report.illegal_content_notice is True
    assert (report.reporter.name, report.reporter.email) == ("Erika Mustermann",
                                                            "erika@example.org")
    assert report.legal is not None and report.legal.legal_basis == "§ 130 StGB"


def test_art16_notice_missing_every_element_names_each_one():
    body = example("user")
    body.update(illegal_content=True)
    del body["text"]
    del body["content"]["url"]
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.text", "body.content.url", "body.reporter.name",
                                    "body.reporter.email", "body.good_faith_statement"}
    assert all("DSA Art. 16" in e["message"] for e in err.value.errors)


def test_art16_good_faith_statement_must_be_true_not_just_present():
    body = illegal_user_notice()
    body["good_faith_statement"] = False
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.good_faith_statement"}


def test_child_sexual_abuse_notice_may_be_anonymous_but_needs_the_rest():
    body = example("user")
    body.update(illegal_content=True, reason="child_sexual_exploitation",
                good_faith_statement=True)
    report = run(body)
    assert report.reporter.name is None and report.dsa_category == (
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS")
    del body["content"]["url"]
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.content.url"}


def test_trusted_flagger_is_priority_and_carries_its_organisation():
    report = run(example("trusted_flagger"))
    assert report.priority_handling is True
    assert report.reporter.organisation == "Example Flagger e.V."
    assert report.reporter.email == "notices@flagger.example"
    assert report.external_id == "TF-2025-000417"
    assert report.illegal_content_notice is True
    assert report.jurisdictions == ["DE"]
    assert report.evidence == ["https://archive.example/snapshot/5521"]


@pytest.mark.parametrize("missing, field", [
    ("explanation", "body.explanation"),
    ("good_faith_statement", "body.good_faith_statement"),
    ("flagger.contact_email", "body.flagger.contact_email"),
    ("content.url", "body.content.url"),
])
def test_trusted_flagger_notice_lacking_an_art16_element_is_refused(missing, field):
    body = example("trusted_flagger")
    *parents, leaf = missing.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    del target[leaf]
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {field}


def test_terrorist_content_order_is_due_one_hour_after_receipt():
    report = run(example("regulator"))
    assert report.legal is not None
    assert report.legal.deadline == NOW + timedelta(hours=1)
    assert report.legal.order_type == "terrorist_content_removal_order"
    assert report.legal.order_reference == "TCO-DE-2025-0042"
    assert report.legal.issuing_authority == "Federal Criminal Police Office"
    assert report.category == "terrorist_content_order"
    assert report.policy_area == "legal_regulatory"
    assert report.jurisdictions == ["DE", "AT"]
    assert report.external_id == "TCO-DE-2025-0042"


def test_an_order_stating_its_deadline_keeps_it():
    body = example("regulator")
    body["deadline"] = "2026-03-03T12:00:00+01:00"
    assert run(body).legal.deadline == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


def test_removal_order_without_deadline_has_none_and_an_illegal_content_category():
    body = example("regulator")
    body["order_type"] = "removal_order"
    report = run(body)
    assert report.legal.deadline is None
    assert report.category == "illegal_content_order"


def test_court_order_may_name_its_own_category():
    body = example("regulator")
    body.update(order_type="court_order", category="defamation")
    assert run(body).category == "defamation"


def test_territorial_scope_must_be_eu_member_states_and_el_means_greece():
    body = example("regulator")
    body["territorial_scope"] = ["EL", "US", "DE", "GB"]
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.territorial_scope.1", "body.territorial_scope.3"}
    body["territorial_scope"] = ["EL", "DE", "GR"]
    assert run(body).jurisdictions == ["GR", "DE"]


def test_deadline_before_issue_date_is_refused():
    body = example("regulator")
    body.update(issued_at="2026-03-02T10:00:00Z", deadline="2026-03-02T09:00:00Z")
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.deadline"}


def test_naive_deadline_is_a_validation_error():
    body = example("regulator")
    body["deadline"] = "2026-03-02T10:00:00"
    with pytest.raises(ValidationError) as err:
        parse(body)
    assert [p.field for p in problems_of(err.value.errors())] == ["deadline"]


@pytest.mark.parametrize("right, category", [("copyright", "copyright"),
                                             ("trademark", "trademark"),
                                             ("counterfeit", "counterfeit")])
def test_rights_holder_notice_category_comes_from_the_right(right, category):
    body = example("rights_holder")
    body["right"]["type"] = right
    report = run(body)
    assert report.category == category
    assert report.policy_area == "intellectual_property"
    assert report.signals["right_type"] == right
    assert report.signals["protected_work"] == "Feature film 'Northern Lights' (2024)"
    assert "https://studios.example/northern-lights" in report.evidence


def test_rights_holder_notice_needs_the_sworn_statement():
    body = example("rights_holder")
    body["sworn_statement"] = False
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.sworn_statement"}


def test_advertiser_misapplied_policy_defaults_its_category_and_keeps_impact():
    report = run(example("advertiser"))
    assert report.category == "ad_policy_misapplied"
    assert report.policy_area == "advertising"
    assert report.signals["business_impact"] == "high"
    assert report.signals["daily_spend_at_risk"] == 12000.0
    assert report.signals["policy"] == "Ads policy 4.2: health claims"
    assert report.reporter.id == "adv-5520"


def test_advertiser_reporting_a_violation_must_name_the_category():
    body = example("advertiser")
    body["concern"] = "violated"
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.category"}
    body["category"] = "misleading_ad"
    assert run(body).category == "misleading_ad"


def test_automated_signal_carries_detector_and_score():
    report = run(example("automated"))
    assert report.reporter.id == "nudity-classifier@3.2.1"
    assert report.signals == {"detector": "nudity-classifier", "detector_version": "3.2.1",
                              "score": 0.97, "threshold": 0.9}
    assert report.text is None


def test_automated_signal_by_hash_match_alone_is_fine_but_needs_one_of_them():
    body = example("automated")
    del body["score"], body["threshold"]
    with pytest.raises(InvalidInput) as err:
        run(body)
    assert fields_of(err.value) == {"body.score"}
    body["match"] = {"hash_list": "csam-hashes", "algorithm": "pdq", "reference": "h-1"}
    assert run(body).signals["match_reference"] == "h-1"


def test_batch_items_use_paths_relative_to_the_item():
    body = example("advertiser")
    body["concern"] = "violated"
    with pytest.raises(InvalidInput) as err:
        normalize(parse(body), report_id=uuid.uuid4(), client_id=CLIENT, received_at=NOW,
                  location="")
    assert fields_of(err.value) == {"category"}


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.pop("reporter"), "reporter"),
    (lambda b: b["content"].pop("id"), "content.id"),
    (lambda b: b.update(reason="not-a-category"), "reason"),
    (lambda b: b.update(text="x" * 5001), "text"),
    (lambda b: b.update(illegal_content="yes"), "illegal_content"),
    (lambda b: b.update(explanaton="typo"), "explanaton"),
    (lambda b: b["content"].update(url="javascript:alert(1)"), "content.url"),
])
def test_validation_problems_name_the_field_without_the_channel_tag(mutate, field):
    body = example("user")
    mutate(body)
    with pytest.raises(ValidationError) as err:
        parse(body)
    assert field in [p.field for p in problems_of(err.value.errors())]


def test_strict_numbers_refuse_strings():
    body = example("automated")
    body["score"] = "0.97"
    with pytest.raises(ValidationError) as err:
        parse(body)
    assert [p.field for p in problems_of(err.value.errors())] == ["score"]


@pytest.mark.parametrize("body", [{"channel": "carrier_pigeon"}, {}])
def test_unknown_or_missing_channel_is_a_problem_at_channel(body):
    with pytest.raises(ValidationError) as err:
        parse(body)
    assert [p.field for p in problems_of(err.value.errors())] == ["channel"]


def test_fingerprint_ignores_key_order_but_not_content():
    body = example("user")
    reordered = dict(reversed(list(body.items())))
    assert fingerprint(parse(body)) == fingerprint(parse(reordered))
    body["text"] = "something else"
    assert fingerprint(parse(body)) != fingerprint(parse(reordered))


def test_status_is_the_furthest_stage_reached_whatever_the_arrival_order():
    assert report_status(routed_at=None, decided_at=None, notified_at=None) is (
        ReportStatus.RECEIVED)
    assert report_status(routed_at=NOW, decided_at=None, notified_at=None) is ReportStatus.ROUTED
    assert report_status(routed_at=None, decided_at=NOW, notified_at=None) is (
        ReportStatus.DECIDED)
    assert report_status(routed_at=NOW, decided_at=NOW, notified_at=NOW) is (
        ReportStatus.NOTIFIED)
