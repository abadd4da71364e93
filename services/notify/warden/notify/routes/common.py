"""What the notify routes share: the ``/v1`` router and the operator calling it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from warden.shared.auth import Reviewer, operator_from_request


def new_router() -> APIRouter:
    return APIRouter(prefix="/v1", tags=["notifications"])


Operator = Annotated[Reviewer, Depends(operator_from_request)]
