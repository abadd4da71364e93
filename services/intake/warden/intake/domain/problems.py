"""What is wrong with a report, named by field, and the 422 that lists it all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from warden.shared.contracts.events import Channel
from warden.shared.errors import InvalidInput

CHANNEL_TAGS = frozenset(c.value for c in Channel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a report: the dotted path of the field, and what is wrong."""

    field: str
    message: str
    type: str = "value_error"


def invalid(problems: list[Problem], *, location: str = "body") -> InvalidInput:
    prefix = f"{location}." if location else ""
    errors = [{"field": f"{prefix}{p.field}", "message": p.message, "type": p.type}
              for p in problems]
    summary = "the report is invalid: " + "; ".join(
        f"{e['field']}: {e['message']}" for e in errors)
    return InvalidInput(summary, errors=errors)


def problems_of(errors: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """Pydantic's ``exc.errors()`` as problems, without the channel tag pydantic puts in
    the path (``body.user.reporter`` -> ``body.reporter``); messages never quote the input."""
    found = []
    for err in errors:
        loc = list(err.get("loc", ()))
        tag = 1 if loc[:1] == ["body"] else 0
        if len(loc) > tag and loc[tag] in CHANNEL_TAGS:
            del loc[tag]
        if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("channel")
        found.append(Problem(".".join(str(p) for p in loc) or "<root>", err.get("msg", ""),
                             err.get("type", "")))
    return found
