"""The routing policy file: matching (first match wins) and validation that names the bad rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from textwrap import dedent

import pytest

from warden.routing.policy import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    load_policy_file,
    parse_policy,
)
from warden.shared.contracts.events import (
    Channel,
    LegalReference,
    Reporter,
    ReportNormalizedV1,
    Subject,
)
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.durations import parse_duration

RECEIVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_QUEUES = {
    "child_safety", "terrorism_violent_extremism", "imminent_harm",
    "graphic_violence_animal_abuse", "hate_harassment", "adult_sexual", "scams_fraud",
    "intellectual_property", "regulatory_legal", "advertiser_escalations", "general", "appeals",
}


def report(category: str = "spam", channel: Channel = Channel.USER, *,
           subject_type: str = "content", jurisdictions: list[str] | None = None,
           signals: dict | None = None, deadline: datetime | None = None) -> ReportNormalizedV1:
    return ReportNormalizedV1(
        report_id=uuid.uuid4(), client_id="test", channel=channel, received_at=RECEIVED,
        reporter=Reporter(kind=channel, id="r1"), subject=Subject(type=subject_type, id="post-1"),
        policy_area=CATEGORIES[category].area.value, category=category,
        dsa_category=CATEGORIES[category].dsa.value, jurisdictions=jurisdictions or [],
        signals=signals or {}, legal=LegalReference(deadline=deadline) if deadline else None)


@pytest.fixture(scope="module")
def shipped():
    return load_policy_file(DEFAULT_POLICY_PATH).policy


MINIMAL = dedent("""
    version: "t1"
    queues:
      general: {sla: 72h}
      hate_harassment: {sla: 24h}
      appeals: {sla: 7d}
    rules:
      - {id: hate, match: {category: [hate_speech]}, queue: hate_harassment, base_priority: 40}
      - {id: default, queue: general, base_priority: 10}
""")


def broken(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


def problems(text: str) -> list[dict]:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="test.yaml")
    assert "test.yaml" in err.value.detail
    return err.value.errors


# --- the shipped policy ---------------------------------------------------------------------

def test_shipped_policy_is_valid_and_has_every_default_queue(shipped):
    assert set(shipped.queues) == DEFAULT_QUEUES
    assert shipped.rules[-1].match.catches_all


def test_only_trained_reviewers_see_child_safety_and_terrorism(shipped):
    assert shipped.skills_for("child_safety") == {"child_safety"}
    assert shipped.skills_for("terrorism_violent_extremism") == {"terrorism"}
    assert shipped.skills_for("general") == frozenset()


@pytest.mark.parametrize(("category", "channel", "queue"), [
    ("child_sexual_exploitation", Channel.USER, "child_safety"),
    ("terrorism", Channel.USER, "terrorism_violent_extremism"),
    ("terrorist_content_order", Channel.REGULATOR, "terrorism_violent_extremism"),
    ("self_harm", Channel.USER, "imminent_harm"),
    ("animal_abuse", Channel.USER, "graphic_violence_animal_abuse"),
    ("harassment", Channel.TRUSTED_FLAGGER, "hate_harassment"),
    ("adult_nudity", Channel.USER, "adult_sexual"),
    ("phishing", Channel.USER, "scams_fraud"),
    ("copyright", Channel.RIGHTS_HOLDER, "intellectual_property"),
    ("illegal_content_order", Channel.REGULATOR, "regulatory_legal"),
    ("defamation", Channel.USER, "regulatory_legal"),
    ("ad_policy_misapplied", Channel.ADVERTISER, "advertiser_escalations"),
    ("spam", Channel.USER, "general"),
])
def test_shipped_rules_send_each_kind_of_report_to_its_specialists(shipped, category, channel,
                                                                    queue):
    assert shipped.route(report(category, channel)).queue == queue


def test_a_regulator_order_outranks_the_category_rule_below_it(shipped):
    # hate speech from a regulator is an authority order first: the earlier rule wins.
    assert shipped.route(report("hate_speech", Channel.REGULATOR)).id == "authority-orders"


def test_detector_score_threshold_selects_the_rule(shipped):
    sure = report("adult_nudity", Channel.AUTOMATED, signals={"score": 0.97})
    unsure = report("adult_nudity", Channel.AUTOMATED, signals={"score": 0.60})
    missing = report("adult_nudity", Channel.AUTOMATED)
    assert shipped.route(sure).id == "nudity-high-confidence-detector"
    assert shipped.route(unsure).id == "adult-sexual"
    assert shipped.route(missing).id == "adult-sexual"


def test_jurisdiction_matches_any_code_of_the_territorial_scope(shipped):
    assert shipped.route(report("election_misinformation", jurisdictions=["US", "fr"])).id == \
        "election-integrity-eu"
    assert shipped.route(report("election_misinformation", jurisdictions=["US"])).id == "default"


def test_subject_type_condition(shipped):
    assert shipped.route(report("impersonation", subject_type="ad")).id == "reported-ads"
    assert shipped.route(report("impersonation", subject_type="account")).id == "default"


def test_textual_signal_never_satisfies_a_numeric_threshold(shipped):
    textual = report("spam", Channel.AUTOMATED, signals={"score": "low"})
    assert shipped.route(textual).id == "default"


def test_statutory_deadline_for_terrorist_content_orders(shipped):
    assert shipped.statutory_deadline("terrorist_content_order", RECEIVED) == \
        RECEIVED + timedelta(hours=1)
    assert shipped.statutory_deadline("illegal_content_order", RECEIVED,
                                      "terrorist_content_removal_order") == \
        RECEIVED + timedelta(hours=1)
    assert shipped.statutory_deadline("spam", RECEIVED) is None
    assert shipped.statutory_deadline("illegal_content_order", RECEIVED, "court_order") is None


# --- matching semantics ------------------------------------------------------------------------

def test_first_matching_rule_wins():
    text = MINIMAL.replace(
        "rules:\n",
        "rules:\n  - {id: early, match: {channel: [trusted_flagger]}, queue: general, "
        "base_priority: 70}\n")
    policy = parse_policy(text).policy
    assert policy.route(report("hate_speech", Channel.TRUSTED_FLAGGER)).id == "early"
    assert policy.route(report("hate_speech", Channel.USER)).id == "hate"
    assert policy.route(report("spam")).id == "default"


def test_all_conditions_of_a_rule_must_hold():
    text = MINIMAL.replace(
        "rules:\n",
        "rules:\n  - {id: both, match: {channel: [automated], signals: {score: {gte: 0.5, "
        "lt: 0.9}}}, queue: general, base_priority: 5}\n")
    policy = parse_policy(text).policy
    assert policy.route(report("spam", Channel.AUTOMATED, signals={"score": 0.5})).id == "both"
    assert policy.route(report("spam", Channel.AUTOMATED, signals={"score": 0.9})).id == "default"
    assert policy.route(report("spam", Channel.USER, signals={"score": 0.7})).id == "default"


def test_rule_sla_overrides_the_queue_sla():
    text = MINIMAL.replace("queue: hate_harassment, base_priority: 40",
                           "queue: hate_harassment, base_priority: 40, sla: 90m")
    policy = parse_policy(text).policy
    assert policy.sla_of(policy.rule("hate")) == timedelta(minutes=90)
    assert policy.sla_of(policy.rule("default")) == timedelta(hours=72)


@pytest.mark.parametrize(("raw", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4)),
    ("7d", timedelta(days=7)), ("1.5h", timedelta(minutes=90)),
])
def test_durations(raw, expected):
    assert parse_duration(raw) == expected


def test_iso_durations_are_accepted_too():
    policy = parse_policy(MINIMAL.replace("sla: 72h", "sla: PT72H")).policy
    assert policy.queues["general"].sla == timedelta(hours=72)


def test_digest_identifies_the_content():
    assert parse_policy(MINIMAL).digest == parse_policy(MINIMAL).digest
    assert parse_policy(MINIMAL).digest != parse_policy(MINIMAL + "\n# edited\n").digest


# --- validation errors name the rule -------------------------------------------------------------

def test_unknown_queue_names_the_rule():
    [problem] = problems(broken("queue: hate_harassment,", "queue: hate_harasment,"))
    assert problem["field"] == "rules[0] ('hate').queue"
    assert "hate_harasment" in problem["message"]


def test_unknown_category_names_the_rule():
    [problem] = problems(broken("[hate_speech]", "[hate_speach]"))
    assert problem["field"] == "rules[0] ('hate').match.category"


def test_misspelt_condition_is_refused_not_ignored():
    [problem] = problems(broken("match: {category:", "match: {categroy:"))
    assert problem["field"].startswith("rules[0] ('hate').match.categroy")


def test_bad_channel_names_the_rule():
    [problem] = problems(broken("match: {category: [hate_speech]}",
                                "match: {channel: [carrier_pigeon]}"))
    assert problem["field"].startswith("rules[0] ('hate').match.channel")


def test_missing_priority_names_the_rule():
    [problem] = problems(broken(", queue: general, base_priority: 10}", ", queue: general}"))
    assert problem["field"] == "rules[1] ('default').base_priority"


def test_catch_all_before_the_end_is_refused_naming_it():
    text = MINIMAL.replace("rules:\n",
                           "rules:\n  - {id: greedy, queue: general, base_priority: 1}\n")
    [problem] = problems(text)
    assert problem["field"] == "rules[0] ('greedy')"
    assert "last" in problem["message"]


def test_a_default_rule_is_required():
    [problem] = problems(broken("- {id: default, queue: general, base_priority: 10}",
                                "- {id: default, match: {channel: [user]}, queue: general, "
                                "base_priority: 10}"))
    assert problem["type"] == "no_default_rule"
    assert problem["field"] == "rules[1] ('default')"


def test_duplicate_rule_ids_are_refused():
    [problem] = problems(broken("id: default", "id: hate"))
    assert problem["field"] == "rules[1] ('hate').id"


def test_empty_signal_condition_is_refused():
    [problem] = problems(broken("match: {category: [hate_speech]}",
                                "match: {signals: {score: {}}}"))
    assert problem["field"] == "rules[0] ('hate').match.signals.score"


def test_appeals_queue_must_exist():
    [problem] = problems(broken("  appeals: {sla: 7d}\n", ""))
    assert problem["field"] == "appeals.queue"


def test_statutory_deadlines_must_name_known_categories_and_be_positive():
    text = MINIMAL.replace("rules:\n", "statutory_deadlines: {terror: 1h}\n"
                                        "order_deadlines: {removal_order: 0s}\nrules:\n")
    assert {p["field"] for p in problems(text)} == {"statutory_deadlines.terror",
                                                   "order_deadlines.removal_order"}


def test_bad_duration_names_the_queue():
    [problem] = problems(broken("sla: 72h", "sla: soon"))
    assert problem["field"] == "queues.general.sla"


def test_every_problem_is_reported_at_once():
    text = broken("queue: hate_harassment,", "queue: nowhere,").replace("[hate_speech]", "[nope]")
    assert {p["field"] for p in problems(text)} == {"rules[0] ('hate').queue",
                                                    "rules[0] ('hate').match.category"}


@pytest.mark.parametrize("text", ["", "just a string", "rules: [unclosed"])
def test_not_a_policy_document(text):
    assert problems(text)


def test_version_is_required():
    assert problems(broken('version: "t1"\n', ""))[0]["field"] == "version"


def test_unreadable_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError) as err:
        load_policy_file(tmp_path / "missing.yaml")
    assert "cannot read" in err.value.errors[0]["message"]


# --- the operator's check command ----------------------------------------------------------------

def test_policy_check_command(tmp_path):
    from typer.testing import CliRunner

    from warden.routing.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["policy", "check", str(DEFAULT_POLICY_PATH)])
    rules = len(load_policy_file(DEFAULT_POLICY_PATH).policy.rules)
    assert ok.exit_code == 0 and f"{rules} rules, 12 queues" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(broken("queue: hate_harassment,", "queue: nowhere,"))
    refused = runner.invoke(app, ["policy", "check", str(bad)])
    assert refused.exit_code == 1
    assert "rules[0] ('hate').queue" in refused.output
