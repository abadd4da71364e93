"""Schemathesis against a running service's own OpenAPI document (one harness, every service).

Generated valid and invalid requests for every ``/v1`` operation never get a 5xx, and every
response matches what the document promises: status, content type, schema and headers.
Invalid data must be refused with a 4xx; 413 is as right a refusal as 422 when the invalid
part is that the body is too big. 5xx stays in the allowed list of the negative-data check
only because ``not_a_server_error`` fails it on its own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                          "422", "428", "429", "5xx"]}}})


@dataclass
class FuzzRun:
    """What one run saw: responses by (operation, status), and every failure found."""

    seen: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def statuses(self, label: str) -> set[int]:
        return {status for (operation, status) in self.seen if operation == label}


def fuzz(base_url: str, headers: dict[str, str], examples: int,
         run: FuzzRun | None = None) -> FuzzRun:
    """Every ``/v1`` operation in both generation modes, ``examples`` cases each, sent with
    ``headers`` (credentials, or none). Blocking: call it in a thread."""
    run = run or FuzzRun()
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG).include(
        path_regex="^/v1/")
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = getattr(operation.definition, "raw", {}) or {}
        modes = [schemathesis.GenerationMode.POSITIVE]
        # With no parameters and no body, "invalid" only means unknown query keys, which
        # these APIs ignore as HTTP APIs conventionally do: nothing to refuse.
        if raw.get("parameters") or raw.get("requestBody"):
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case) -> None:
                response = case.call(base_url=base_url, session=session, headers=headers)
                run.seen[(operation.label, response.status_code)] += 1
                case.validate_response(response, checks=CHECKS)

            try:
                exercise()
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to make invalid
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure
                run.failures.append(f"{operation.label} [{mode.value}]: {_describe(exc)}")
    return run


def _describe(exc: BaseException) -> str:
    """The failure with what it groups (Hypothesis wraps the check's own error)."""
    inner = getattr(exc, "exceptions", None) or []
    return "\n".join([str(exc), *(f"  - {_describe(e)}" for e in inner)])
