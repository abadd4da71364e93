"""Kafka plumbing: producer, topic setup, transactional outbox and relay, consumer runner."""
