"""Notify settings refuse configurations that would break delivery, before anything starts."""

import pytest
from pydantic import ValidationError

from warden.notify.settings import LOCAL_RECEIVER_URL, NotifySettings
from warden.notify.signing import secret_key


def test_local_defaults_need_nothing_set_and_point_at_the_local_receiver(monkeypatch):
    for name in ("WARDEN_NOTIFY_WEBHOOK_URL", "WARDEN_NOTIFY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = NotifySettings()
    assert settings.webhook_url == LOCAL_RECEIVER_URL and settings.port == 8004
    assert len(secret_key(settings.webhook_secret)) >= 24


def test_webhook_endpoint_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WARDEN_NOTIFY_WEBHOOK_URL", "https://hooks.example.com/warden")
    monkeypatch.setenv("WARDEN_NOTIFY_WEBHOOK_SECRET",
                       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    settings = NotifySettings()
    assert settings.webhook_url == "https://hooks.example.com/warden"
    assert settings.webhook_secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_secret_not_in_whsec_format_is_refused(monkeypatch):
    monkeypatch.setenv("WARDEN_NOTIFY_WEBHOOK_SECRET", "hunter2")
    with pytest.raises(ValidationError, match="WARDEN_NOTIFY_WEBHOOK_SECRET"):
        NotifySettings()


def test_lease_must_outlast_the_request_timeout():
    with pytest.raises(ValidationError, match="delivery_lease_s"):
        NotifySettings(delivery_timeout_s=30, delivery_lease_s=30)


def test_lease_must_outlast_every_turn_the_sends_in_flight_take_for_a_connection():
    # 4 rounds of 50 on 10 connections: 20 turns of up to 10 s each.
    with pytest.raises(ValidationError, match="delivery_timeout_s × 20"):
        NotifySettings(delivery_rounds_in_flight=4, delivery_batch_size=50,
                       delivery_connections=10, delivery_timeout_s=10, delivery_lease_s=60)
    assert NotifySettings(delivery_rounds_in_flight=4, delivery_batch_size=50,
                          delivery_connections=10, delivery_timeout_s=2,
                          delivery_lease_s=60).delivery_connections == 10


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("WARDEN_NOTIFY_WEBHOOK_URL", "http://127.0.0.1:99999/hooks", "WARDEN_NOTIFY_WEBHOOK_URL"),
    ("WARDEN_NOTIFY_SMTP_URL", "http://mail.example", "WARDEN_NOTIFY_SMTP_URL"),
    ("WARDEN_NOTIFY_TDB_URL", "https://transparency.example", "WARDEN_NOTIFY_TDB_TOKEN"),
])
def test_bad_endpoints_in_the_environment_stop_the_start_naming_the_variable(
        monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=named):
        NotifySettings()
