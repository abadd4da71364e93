"""Serve a service app with uvicorn (used by each service's ``__main__``)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from warden.shared.settings import ServiceSettings


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """One process, or ``settings.workers`` uvicorn worker processes sharing the port (each
    builds its own app from the environment, as this process would)."""
    options = dict(host=settings.host, port=settings.port, log_config=None, access_log=False,
                   timeout_graceful_shutdown=10)
    if settings.workers > 1:
        uvicorn.run(f"{create_app.__module__}:{create_app.__name__}", factory=True,
                    workers=settings.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
