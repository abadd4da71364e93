"""App factory of the notify service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from warden.notify.consumers import wire
from warden.notify.routes import router
from warden.notify.settings import NotifySettings
from warden.shared.app import create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or NotifySettings(),
        title="Warden notify",
        description="Tells endpoints about enforcement facts through signed, retried webhooks; "
                    "operators read the delivery log and redeliver.",
        routers=[router],
        wire=wire,
    )
