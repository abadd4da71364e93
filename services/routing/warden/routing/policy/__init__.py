"""The routing policy: queues, rules and priority weights, read from a versioned YAML file.

Routing rules are data, not code. Rules are tried in order and the first one whose
conditions all hold places the report; the last rule has no conditions and catches the
rest. A file is validated as a whole before it is used, and every problem is reported
with the rule it belongs to, so a bad edit is refused with a message an operator can act
on (and the policy in force stays in force).
"""

from pathlib import Path

from warden.routing.policy.document import (
    AppealsSpec,
    AutomatedDecision,
    DeadlineTier,
    Match,
    PriorityWeights,
    QueueSpec,
    RoutingPolicy,
    Rule,
    SignalCondition,
)
from warden.routing.policy.loading import (
    LoadedPolicy,
    PolicyError,
    consistency_problems,
    load_policy_file,
    parse_policy,
)
from warden.routing.policy.store import PolicyStore

DEFAULT_POLICY_PATH = Path(__file__).parent.with_name("default_policy.yaml")

__all__ = [
    "DEFAULT_POLICY_PATH", "AppealsSpec", "AutomatedDecision", "DeadlineTier", "LoadedPolicy",
    "Match", "PolicyError", "PolicyStore", "PriorityWeights", "QueueSpec", "RoutingPolicy",
    "Rule", "SignalCondition", "consistency_problems", "load_policy_file", "parse_policy",
]
