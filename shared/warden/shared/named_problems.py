"""Errors that name every problem of a request or a document by its field.

One shape everywhere: ``[{"field": "rules[2] ('spam').queue", "message": ..., "type": ...}]``,
carried in a 422's ``errors`` (HTTP), or in the start-up error of a configuration file
(the routing policy, the decision catalogues). A file is checked as a whole, so one
error lists all that is wrong with it, not just the first thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from warden.shared.errors import InvalidInput

Problem = dict[str, str]
M = TypeVar("M", bound=BaseModel)
FILE = "<file>"
SUMMARY_LIMIT = 5


def dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def schema_problems(raw_errors: Iterable[dict[str, Any]],
                    field: Callable[[Sequence[Any]], str] = dotted) -> list[Problem]:
    """Pydantic (or FastAPI) errors as named problems; ``field`` names a location."""
    return [{"field": field(tuple(err.get("loc", ()))), "message": err.get("msg", ""),
             "type": err.get("type", "")} for err in raw_errors]


class Problems(list[Problem]):
    """Problems gathered while checking something, to raise together at the end."""

    def add(self, field: str, message: str, kind: str) -> None:
        self.append({"field": field, "message": message, "type": kind})


class DocumentError(InvalidInput):
    """A document that cannot be used; ``errors`` name each problem, the message sums up
    the first few. Subclasses say what the document is (``document = "routing policy"``)."""

    document = "document"

    @classmethod
    def of(cls, source: str, problems: Sequence[Problem]) -> Self:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:SUMMARY_LIMIT])
        more = (f" (and {len(problems) - SUMMARY_LIMIT} more)"
                if len(problems) > SUMMARY_LIMIT else "")
        return cls(f"{cls.document} {source} is invalid: {summary}{more}",
                   errors=list(problems))

    @classmethod
    def of_file(cls, source: str, message: str, kind: str) -> Self:
        """A problem with the file as a whole (unreadable, not YAML...)."""
        return cls.of(source, [{"field": FILE, "message": message, "type": kind}])


def read_document(path: Path, error: type[DocumentError]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error.of_file(str(path), f"cannot read: {exc}", "io") from exc


def yaml_mapping(text: str, source: str, error: type[DocumentError]) -> dict[str, Any]:
    """The YAML document ``text``, which must be a mapping."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error.of_file(source, f"not valid YAML: {exc}", "yaml") from exc
    if not isinstance(document, dict):
        raise error.of_file(source, "must be a YAML mapping", "type")
    return document


def validated(model: type[M], document: dict[str, Any], source: str,
              error: type[DocumentError],
              field: Callable[[Sequence[Any]], str] = dotted) -> M:
    """``document`` as a ``model``; every schema problem named (``field`` names locations)."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error.of(source, schema_problems(exc.errors(), field)) from exc
