"""Routing service: turns reports into cases in specialist queues and leases them to reviewers."""
