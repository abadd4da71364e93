"""CloudEvents 1.0 envelope in structured JSON mode, plus Warden's extensions.

Extensions: ``correlationid`` (follows one report through every service) and
``traceparent`` (W3C trace context, so traces cross Kafka hops).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warden.shared.clock import utcnow
from warden.shared.errors import InvalidMessage
from warden.shared.tracing import current_traceparent

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    traceparent: str | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> CloudEvent:
        """Parse a Kafka record value; anything malformed is an ``InvalidMessage``."""
        if raw is None:
            raise InvalidMessage("empty record value (tombstone) where an event was expected")
        try:
            # pydantic parses and validates in one pass; what fails is read again, slowly,
            # only to say why.
            return cls.model_validate_json(raw)
        except ValidationError:
            pass
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidMessage(f"record value is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise InvalidMessage("record value is JSON but not an object")
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            raise InvalidMessage(f"not a CloudEvent: {_summarise(exc)}") from exc

    def payload(self) -> BaseModel:
        """The typed payload for this event's ``type`` (``InvalidMessage`` if unknown or invalid)."""
        from warden.shared.contracts.events import payload_model_for

        model = payload_model_for(self.type)
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise InvalidMessage(f"invalid {self.type} payload: {_summarise(exc)}") from exc


def _summarise(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    payload: BaseModel,
    correlation_id: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    return CloudEvent(
        type=type,
        source=source,
        subject=subject,
        data=payload.model_dump(mode="json"),
        correlationid=correlation_id,
        # The span the event is created in (a request's, or a consumed event's) is its parent.
        traceparent=traceparent or current_traceparent(),
    )
