"""Reviewer tokens (audience per service, key ids for rotation, roles) and the guard that
keeps published development secrets out of production. No I/O."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from warden.shared.auth import decode_reviewer_token, issue_reviewer_token
from warden.shared.errors import Unauthorized
from warden.shared.settings import InsecureConfiguration, ServiceSettings

OLD = "the-old-reviewer-token-key-0123456789"
NEW = "the-new-reviewer-token-key-0123456789"
KEYS = {"2026-06": OLD, "2026-12": NEW}


def header_of(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_tokens_carry_their_key_id_and_both_keys_verify_during_a_rotation():
    old = issue_reviewer_token(OLD, "alice", kid="2026-06")
    new = issue_reviewer_token(NEW, "bob", kid="2026-12")
    assert header_of(new)["kid"] == "2026-12"
    assert decode_reviewer_token(KEYS, "2026-12", old, "routing").id == "alice"
    assert decode_reviewer_token(KEYS, "2026-12", new, "routing").id == "bob"


def test_a_retired_key_no_longer_verifies():
    old = issue_reviewer_token(OLD, "alice", kid="2026-06")
    with pytest.raises(Unauthorized, match="unknown key id '2026-06'"):
        decode_reviewer_token({"2026-12": NEW}, "2026-12", old, "routing")


def test_a_token_claiming_one_key_id_but_signed_with_another_key_is_refused():
    forged = issue_reviewer_token(OLD, "mallory", kid="2026-12")
    with pytest.raises(Unauthorized, match="invalid reviewer token"):
        decode_reviewer_token(KEYS, "2026-12", forged, "routing")


def test_a_token_without_key_id_is_checked_against_the_current_key_only():
    assert decode_reviewer_token(KEYS, "2026-12", issue_reviewer_token(NEW, "a"), "notify").id
    with pytest.raises(Unauthorized):
        decode_reviewer_token(KEYS, "2026-12", issue_reviewer_token(OLD, "a"), "notify")


def test_each_service_accepts_only_tokens_issued_for_it():
    token = issue_reviewer_token(NEW, "alice", kid="2026-12", services=["routing", "decision"])
    for service in ("routing", "decision"):
        assert decode_reviewer_token(KEYS, "2026-12", token, service).id == "alice"
    with pytest.raises(Unauthorized, match="not issued for 'warden-notify'"):
        decode_reviewer_token(KEYS, "2026-12", token, "notify")


def test_expired_tokens_are_refused_as_expired():
    token = issue_reviewer_token(NEW, "alice", kid="2026-12", ttl=timedelta(seconds=-1))
    with pytest.raises(Unauthorized, match="expired"):
        decode_reviewer_token(KEYS, "2026-12", token, "routing")


def test_claims_of_the_wrong_type_grant_nothing():
    import jwt

    token = jwt.encode({"sub": "a", "roles": "lead", "skills": {"x": 1}, "aud": "warden-routing",
                        "exp": 4_000_000_000}, NEW, algorithm="HS256")
    reviewer = decode_reviewer_token(KEYS, "2026-12", token, "routing")
    assert reviewer.roles == frozenset() and reviewer.skills == frozenset()


def production(**values) -> ServiceSettings:
    return ServiceSettings(dev_mode=False, **values)


def test_published_default_token_secret_refuses_to_start_outside_dev_mode():
    with pytest.raises(InsecureConfiguration, match="WARDEN_REVIEWER_TOKEN_SECRET"):
        production().require_secure()
    ServiceSettings(dev_mode=True).require_secure()
    production(reviewer_token_secret=NEW).require_secure()


def test_short_or_default_rotation_keys_are_refused_too():
    with pytest.raises(InsecureConfiguration, match="'2026-06' is shorter than 32 bytes"):
        production(reviewer_token_secret=NEW,
                   reviewer_token_previous_keys={"2026-06": "short"}).require_secure()
    problems = production(reviewer_token_secret=NEW, reviewer_token_previous_keys={
        "old": ServiceSettings().reviewer_token_secret}).insecure_settings()
    assert problems == ["previous reviewer token key 'old' is the published default"]


def test_dev_mode_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("WARDEN_DEV_MODE", "false")
    assert ServiceSettings().dev_mode is False
    monkeypatch.setenv("WARDEN_DEV_MODE", "true")
    assert ServiceSettings().dev_mode is True


def test_the_default_webhook_secret_and_the_dev_api_key_are_refused_outside_dev_mode():
    from warden.intake.settings import IntakeSettings
    from warden.notify.settings import NotifySettings

    notify = NotifySettings(dev_mode=False, reviewer_token_secret=NEW)
    assert notify.insecure_settings() == [
        "WARDEN_NOTIFY_WEBHOOK_SECRET still holds the published default"]
    intake = IntakeSettings(dev_mode=False, reviewer_token_secret=NEW, dev_api_key="k")
    with pytest.raises(InsecureConfiguration, match="WARDEN_INTAKE_DEV_API_KEY"):
        intake.require_secure()


def test_the_published_lease_key_pair_is_refused_outside_dev_mode():
    """Anyone holding the development key pair could mint leases decision accepts."""
    from warden.decision.settings import DecisionSettings
    from warden.routing.settings import RoutingSettings

    assert RoutingSettings(dev_mode=False, reviewer_token_secret=NEW).insecure_settings() == [
        "WARDEN_ROUTING_LEASE_SIGNING_KEY still holds the published default"]
    assert DecisionSettings(dev_mode=False, reviewer_token_secret=NEW).insecure_settings() == [
        "WARDEN_DECISION_LEASE_VERIFY_KEY still holds the published default"]
    RoutingSettings(dev_mode=True).require_secure()


async def test_a_service_with_a_default_secret_does_not_start():
    from warden.routing.app import create_app
    from warden.routing.settings import RoutingSettings

    app = create_app(RoutingSettings(dev_mode=False))
    with pytest.raises(InsecureConfiguration, match="routing refuses to start"):
        async with app.router.lifespan_context(app):
            pass
