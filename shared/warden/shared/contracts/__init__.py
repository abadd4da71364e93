"""Event contracts shared by every service (CloudEvents envelope + versioned payloads)."""

from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import EVENT_MODELS, payload_model_for

__all__ = ["CloudEvent", "new_event", "EVENT_MODELS", "payload_model_for"]
