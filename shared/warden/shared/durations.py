"""Durations as people write them in policy and catalogue files: ``90s``, ``15m``, ``4h``,
``7d`` (or ISO 8601, e.g. ``PT4H``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"7d"`` or a number of seconds; anything else is left to
    pydantic (which also accepts ISO 8601 durations such as ``PT4H``)."""
    if isinstance(value, str) and (found := _DURATION.match(value)):
        return timedelta(seconds=float(found.group(1)) * _UNIT_SECONDS[found.group(2)])
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 15m, 4h, 7d or PT4H")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
