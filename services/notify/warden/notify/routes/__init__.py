"""HTTP API for operators: the delivery log, redelivery, and webhook endpoints.

One module per use case: ``notifications`` (the delivery log, reading one notification with
its attempts, redelivering), ``endpoints`` (creating and changing endpoints, rotating a
webhook's secret) and ``templates`` (previewing the notices an event would cause). What they
share (the ``/v1`` router, the operator) is in ``common``.
"""

from __future__ import annotations

from fastapi import APIRouter

from warden.notify.routes import endpoints, notifications, templates

router = APIRouter()
for part in (notifications, endpoints, templates):
    router.include_router(part.router)
