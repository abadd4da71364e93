"""Settings every service shares."""

from __future__ import annotations

from warden.shared.settings import ServiceSettings


def test_min_insync_replicas_follows_replication_unless_set(monkeypatch):
    assert ServiceSettings(topic_replication=1).min_insync_replicas == 1
    assert ServiceSettings(topic_replication=2).min_insync_replicas == 1
    assert ServiceSettings(topic_replication=3).min_insync_replicas == 2
    assert ServiceSettings(topic_replication=5).min_insync_replicas == 2
    monkeypatch.setenv("WARDEN_TOPIC_MIN_INSYNC_REPLICAS", "3")
    assert ServiceSettings(topic_replication=5).min_insync_replicas == 3
