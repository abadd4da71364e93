"""FastAPI dependencies on the running service: the :class:`Runtime` and what it holds.

Every service's routes take ``rt: RuntimeDep``; a service's own context in
``runtime.extras`` is reached the same way through :func:`from_runtime`::

    ContextDep = Annotated[DecisionContext, Depends(from_runtime(context))]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from warden.shared.app import Runtime

T = TypeVar("T")


def runtime_of(request: Request) -> Runtime:
    """The runtime the app's lifespan started (``app.state.runtime``)."""
    return request.app.state.runtime


async def runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request.
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def from_runtime(pick: Callable[[Runtime], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency answering ``pick(runtime)``: a service's context, settings, a gate..."""

    async def dependency(request: Request) -> T:
        return pick(runtime_of(request))

    dependency.__name__ = f"from_runtime_{getattr(pick, '__name__', 'part')}"
    return dependency
