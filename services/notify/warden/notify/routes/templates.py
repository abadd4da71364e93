"""Previewing templates: the notices an event would cause, rendered, with nothing sent."""

from __future__ import annotations

from pydantic import BaseModel, Field

from warden.notify.notices import locale_for
from warden.notify.routes.common import Operator, new_router
from warden.notify.service import NotifyService, preview as preview_notices
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import payload_model_for
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import InvalidInput, InvalidMessage

router = new_router()


class PreviewIn(BaseModel):
    event: dict = Field(description="a CloudEvent as published on Kafka (reports.normalized, "
                        "decisions.recorded)")
    locale: str | None = Field(None, max_length=35, description="BCP 47; the notice's own "
                               "locale when omitted; unsupported ones fall back to English")


class PreviewNotice(BaseModel):
    notice: str
    audience: str
    locale: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    document: dict | None = Field(None, description="the Transparency Database statement")


@router.post("/templates/preview", response_model=list[PreviewNotice], tags=["templates"])
async def preview(body: PreviewIn, _: Operator, rt: RuntimeDep) -> list[PreviewNotice]:
    """Render the notices an event would cause, in a locale, without sending anything."""
    try:
        event = CloudEvent.model_validate(body.event)
        payload = payload_model_for(event.type).model_validate(event.data)
    except (ValueError, InvalidMessage) as exc:
        raise InvalidInput(f"not a known event: {exc}"[:500],
                           errors=[{"field": "body.event", "type": "event",
                                    "message": str(exc)[:500]}]) from None
    service: NotifyService = rt.extras["service"]
    locale = locale_for(body.locale) if body.locale else None
    return [PreviewNotice(**item) for item in preview_notices(service.templates, event, payload,
                                                               locale=locale)]
