"""Who is told what (pure rules), the templates in every locale, verdicts, circuit, URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.notify.circuit import CircuitPolicy
from warden.notify.domain import (
    AttemptResult,
    EndpointKind,
    NotificationStatus,
    RetryPolicy,
    Verdict,
    after_attempt,
    validate_endpoint_url,
)
from warden.notify.notices import (
    LOCALES,
    TEMPLATED,
    Audience,
    DecisionFacts,
    NoticeKind,
    ReportFacts,
    authority_receipt,
    decision_notices,
    locale_for,
    locale_for_country,
    reporter_receipt,
    sample_contexts,
)
from warden.notify.templates import TEMPLATE_DIR, TemplateCatalogue, TemplateCatalogueError
from warden.shared.errors import InvalidInput

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def report(channel: str, **kw) -> ReportFacts:
    return ReportFacts(report_id=kw.pop("report_id", "r-1"), channel=channel, **kw)


def decision(**kw) -> DecisionFacts:
    values = dict(decision_id="d-1", case_id="c-1", subject_id="post-1", subject_url=None,
                  owner_id="acct-1", decided_at=NOW, actions=("remove",), restricts=True,
                  puid="warden-d-1", statement={"puid": "warden-d-1"})
    return DecisionFacts(**{**values, **kw})


# --- receipts ----------------------------------------------------------------------------

def test_users_get_a_messaging_receipt_and_notice_senders_an_email():
    user = reporter_receipt(report("user", reporter_id="u-1", contact_email="u@x.example"),
                            subject_url=None)
    flagger = reporter_receipt(report("trusted_flagger", reporter_id="f-1",
                                      contact_email="f@x.example"), subject_url=None)
    assert user.email is None and user.recipient == "u-1"  # users: the messaging endpoint
    assert flagger.email == "f@x.example"
    assert user.dedupe_key == "reporter_receipt:r-1"
    assert user.audience is Audience.REPORTER and user.priority == 0


@pytest.mark.parametrize("channel", ["automated", "regulator"])
def test_detectors_and_authorities_get_no_reporter_receipt(channel):
    assert reporter_receipt(report(channel, reporter_id="x"), subject_url=None) is None


def test_an_anonymous_user_cannot_be_told():
    assert reporter_receipt(report("user"), subject_url=None) is None


def test_authority_receipt_waits_until_the_report_is_routed_and_goes_first():
    unrouted = report("regulator", authority="BKA", authority_country="AT")
    assert authority_receipt(unrouted) is None
    notice = authority_receipt(ReportFacts(**{**unrouted.__dict__, "routed_at": NOW}))
    assert notice.priority == 100 and notice.locale == "de"
    assert notice.dedupe_key == "authority_receipt:r-1"


@pytest.mark.parametrize(("tag", "locale"), [("de-DE", "de"), ("fr", "fr"), ("pl_PL", "pl"),
                                             ("NL", "nl"), ("pt-BR", "en"), (None, "en"),
                                             ("", "en"), ("x", "en")])
def test_locales_fall_back_to_english(tag, locale):
    assert locale_for(tag) == locale


def test_an_authority_is_written_to_in_its_country_language():
    assert [locale_for_country(c) for c in ("DE", "fr", "ES", "IT", "PL", "NL", "SE", None)] == \
        ["de", "fr", "es", "it", "pl", "nl", "en", "en"]


# --- decisions ---------------------------------------------------------------------------

def test_a_final_decision_tells_reporter_authority_affected_database():
    reports = [report("user", reporter_id="u-1", locale="it"),
               report("regulator", report_id="r-2", authority="Garante",
                      authority_country="IT", order_type="terrorist_content_removal_order",
                      deadline=NOW + timedelta(hours=1)),
               report("automated", report_id="r-3")]
    notices = {n.kind: n for n in decision_notices(decision(), reports)}
    assert set(notices) == {NoticeKind.REPORTER_OUTCOME, NoticeKind.AUTHORITY_OUTCOME,
                            NoticeKind.STATEMENT_OF_REASONS, NoticeKind.TRANSPARENCY_STATEMENT}
    authority = notices[NoticeKind.AUTHORITY_OUTCOME].context
    assert authority["removed_at"] == "2026-03-01T09:00:00Z" and authority["within_deadline"]
    assert notices[NoticeKind.REPORTER_OUTCOME].locale == "it"
    assert notices[NoticeKind.TRANSPARENCY_STATEMENT].document == {"puid": "warden-d-1"}


def test_a_decision_not_yet_final_tells_no_one():
    assert decision_notices(decision(final=False), [report("user", reporter_id="u")]) == []


def test_referrals_go_to_their_audience_and_no_action_needs_no_statement():
    notices = decision_notices(decision(referrals=("law_enforcement", "child_safety_hotline"),
                                        restricts=False, statement=None), [])
    assert {n.audience for n in notices} == {Audience.LAW_ENFORCEMENT,
                                             Audience.CHILD_SAFETY_HOTLINE}


def test_appeals_and_reversals_tell_the_affected_user_what_became_of_it():
    [restored] = [n for n in decision_notices(decision(appeal_id="a", appeal_outcome="reversed",
                                                       reverses_decision_id="d-0",
                                                       restricts=False, statement=None), [])]
    assert restored.kind is NoticeKind.RESTORATION
    upheld = decision_notices(decision(appeal_id="a", appeal_outcome="upheld", statement=None),
                              [report("user", reporter_id="u")])
    assert [n.kind for n in upheld] == [NoticeKind.APPEAL_OUTCOME]  # reporter told before


# --- templates ---------------------------------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", TEMPLATED)
def test_every_template_renders_in_every_locale(kind, locale):
    rendered = TemplateCatalogue.load().render(kind, locale, sample_contexts()[kind])
    assert rendered.locale == locale and rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "{{" not in rendered.text and "{%" not in rendered.text
    english = TemplateCatalogue.load().render(kind, "en", sample_contexts()[kind])
    assert locale == "en" or rendered.subject != english.subject  # translated, not copied


def test_html_is_autoescaped_and_text_is_left_as_written():
    context = {**sample_contexts()[NoticeKind.STATEMENT_OF_REASONS],
               "facts": "<script>alert(1)</script>"}
    rendered = TemplateCatalogue.load().render(NoticeKind.STATEMENT_OF_REASONS, "en", context)
    assert "&lt;script&gt;" in rendered.html and "<script>" not in rendered.html
    assert "<script>alert(1)</script>" in rendered.text


def test_unsupported_locale_falls_back_to_english():
    kind = NoticeKind.REPORTER_RECEIPT
    rendered = TemplateCatalogue.load().render(kind, "pt", sample_contexts()[kind])
    assert rendered.locale == "en" and rendered.subject.startswith("We received")


def _copy_templates(tmp_path: Path) -> Path:
    for path in TEMPLATE_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_a_template_using_an_unknown_variable_is_a_start_up_error_naming_it(tmp_path):
    directory = _copy_templates(tmp_path)
    path = directory / "pl.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{{ report_reference }}", "{{ no_such_thing }}", 1), encoding="utf-8")
    with pytest.raises(TemplateCatalogueError, match=r"pl\.yaml, notice reporter_receipt.*"
                                                     r"no_such_thing"):
        TemplateCatalogue.load(directory)


def test_a_missing_notice_or_broken_syntax_is_named(tmp_path):
    directory = _copy_templates(tmp_path)
    (directory / "nl.yaml").write_text("reporter_receipt:\n  subject: '{% if %}'\n  body: x\n",
                                       encoding="utf-8")
    with pytest.raises(TemplateCatalogueError, match=r"nl\.yaml, notice reporter_receipt"):
        TemplateCatalogue.load(directory)
    (directory / "nl.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(TemplateCatalogueError, match=r"nl\.yaml, notice reporter_receipt: "
                                                     r"needs a 'subject' and a 'body'"):
        TemplateCatalogue.load(directory)


# --- verdicts, circuit, URLs -------------------------------------------------------------

def result(status=None, verdict=None) -> AttemptResult:
    return AttemptResult(started_at=NOW, duration_ms=1.0, status_code=status,
                         verdict_override=verdict)


@pytest.mark.parametrize(("status", "verdict"), [
    (204, Verdict.DELIVERED), (410, Verdict.GONE), (400, Verdict.PERMANENT),
    (422, Verdict.PERMANENT), (413, Verdict.PERMANENT), (401, Verdict.RETRY),
    (404, Verdict.RETRY), (429, Verdict.RETRY), (503, Verdict.RETRY), (None, Verdict.RETRY)])
def test_what_an_answer_means(status, verdict):
    assert result(status).verdict is verdict


def test_a_permanent_refusal_is_dead_on_the_first_attempt():
    policy = RetryPolicy(max_attempts=8, backoff_initial_s=1, backoff_max_s=10)
    for answer in (result(422), result(410), result(550, Verdict.PERMANENT)):
        assert after_attempt(answer, attempt_in_round=1, policy=policy,
                             now=NOW).status is NotificationStatus.DEAD


def test_the_circuit_opens_at_the_threshold_and_backs_off_to_a_ceiling():
    circuit = CircuitPolicy(threshold=3, open_s=10, max_open_s=60)
    assert circuit.open_until(2, NOW) is None
    assert circuit.open_until(3, NOW) == NOW + timedelta(seconds=10)
    assert circuit.open_until(4, NOW) == NOW + timedelta(seconds=20)
    assert circuit.open_until(40, NOW) == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("url", ["gopher://hooks.example/x", "http://hooks.example:99999/x",
                                 "http://user:pw@hooks.example/x", "http://token@hooks.example/",
                                 "http://hooks.example:0/", "http://hooks .example/",
                                 "https:///x"])
def test_bad_webhook_urls_are_refused_with_the_reason(url):
    with pytest.raises(InvalidInput) as refused:
        validate_endpoint_url(url)
    assert refused.value.errors[0]["field"] == "body.url"


def test_each_kind_of_endpoint_has_its_schemes():
    assert validate_endpoint_url("smtp://127.0.0.1:8025", EndpointKind.EMAIL)
    assert validate_endpoint_url("https://transparency.dsa.ec.europa.eu",
                                 EndpointKind.TRANSPARENCY_DB)
    with pytest.raises(InvalidInput):
        validate_endpoint_url("https://mail.example", EndpointKind.EMAIL)
    with pytest.raises(InvalidInput):
        validate_endpoint_url("smtp://mail.example", EndpointKind.WEBHOOK)
