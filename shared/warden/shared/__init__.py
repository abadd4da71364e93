"""Warden's common package: event contracts, bus, persistence helpers, observability, app factory."""
