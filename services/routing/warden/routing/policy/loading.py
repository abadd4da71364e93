"""Reading a policy file: parsed and validated as a whole, every problem named by its rule."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from warden.routing.policy.document import RoutingPolicy
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.named_problems import (
    DocumentError,
    Problems,
    read_document,
    validated,
    yaml_mapping,
)

class PolicyError(DocumentError):
    """The policy file cannot be used; ``errors`` name each bad rule or field."""

    document = "routing policy"


@dataclass(frozen=True)
class LoadedPolicy:
    policy: RoutingPolicy
    digest: str
    source: str

    @property
    def version(self) -> str:
        return self.policy.version


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
    """Parse and fully validate a policy document; ``PolicyError`` lists every problem."""
    document = yaml_mapping(text, source, PolicyError)
    policy = validated(RoutingPolicy, document, source, PolicyError, _field_namer(document))
    if problems := consistency_problems(policy):
        raise PolicyError.of(source, problems)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return LoadedPolicy(policy=policy, digest=digest, source=source)


def load_policy_file(path: Path) -> LoadedPolicy:
    return parse_policy(read_document(path, PolicyError), source=str(path))


def consistency_problems(policy: RoutingPolicy) -> Problems:
    """Cross-references a schema cannot express: queues exist, the default rule is last..."""
    problems = Problems()
    problem = problems.add

    seen: set[str] = set()
    last = len(policy.rules) - 1
    for index, rule in enumerate(policy.rules):
        where = _rule_label(index, rule.id)
        if rule.id in seen:
            problem(f"{where}.id", f"duplicate rule id {rule.id!r}", "duplicate")
        seen.add(rule.id)
        if rule.queue not in policy.queues:
            problem(f"{where}.queue", f"unknown queue {rule.queue!r}; queues are "
                    f"{', '.join(sorted(policy.queues))}", "unknown_queue")
        for code in rule.match.category or []:
            if code not in CATEGORIES:
                problem(f"{where}.match.category", f"unknown category {code!r}", "unknown_category")
        for name, test in (rule.match.signals or {}).items():
            if test.is_empty():
                problem(f"{where}.match.signals.{name}", "a signal condition needs at least one "
                        "of gte, gt, lte, lt, eq, in", "empty_condition")
        if rule.match.catches_all and index != last:
            problem(where, "matches every report, so the rules after it could never apply; "
                    "the catch-all rule must be the last", "unreachable_rules")
    if not policy.rules[last].match.catches_all:
        problem(_rule_label(last, policy.rules[last].id),
                "the last rule must have no conditions so that every report is routed",
                "no_default_rule")
    if policy.appeals.queue not in policy.queues:
        problem("appeals.queue", f"unknown queue {policy.appeals.queue!r}", "unknown_queue")
    for code in policy.statutory_deadlines:
        if code not in CATEGORIES:
            problem(f"statutory_deadlines.{code}", f"unknown category {code!r}",
                    "unknown_category")
    for order_type, limit in policy.order_deadlines.items():
        if limit <= timedelta(0):
            problem(f"order_deadlines.{order_type}", "must be positive", "range")
    for code, limit in policy.statutory_deadlines.items():
        if limit <= timedelta(0):
            problem(f"statutory_deadlines.{code}", "must be positive", "range")
    for queue, spec in policy.queues.items():
        if spec.sla <= timedelta(0):
            problem(f"queues.{queue}.sla", "must be positive", "range")
    return problems


def _rule_label(index: int, rule_id: Any) -> str:
    return f"rules[{index}] ({rule_id!r})" if rule_id else f"rules[{index}]"


def _field_namer(document: dict) -> Callable[[Sequence[Any]], str]:
    """Schema problems inside a rule are named by the rule's index and id."""
    raw_rules = document.get("rules") if isinstance(document.get("rules"), list) else []

    def field(loc: Sequence[Any]) -> str:
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw = raw_rules[loc[1]] if loc[1] < len(raw_rules) else None
            rule_id = raw.get("id") if isinstance(raw, dict) else None
            head, tail = _rule_label(loc[1], rule_id), ".".join(str(p) for p in loc[2:])
            return ".".join(p for p in (head, tail) if p)
        return ".".join(str(p) for p in loc) or "<root>"

    return field
