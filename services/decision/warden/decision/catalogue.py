"""The action and policy catalogues: data (YAML), validated as a whole at start-up.

A bad file stops the service with every problem named by its entry
(``actions.remove.restored_by: unknown action 'restore'``), like the routing policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warden.shared.contracts import transparency
from warden.shared.contracts.taxonomy import PolicyArea
from warden.shared.durations import Duration
from warden.shared.named_problems import (
    DocumentError,
    Problems,
    read_document,
    validated,
    yaml_mapping,
)

CATALOGUE_DIR = Path(__file__).with_name("catalogues")
DEFAULT_ACTIONS_PATH = CATALOGUE_DIR / "actions.yaml"
DEFAULT_POLICIES_PATH = CATALOGUE_DIR / "policies.yaml"

M = TypeVar("M", bound=BaseModel)
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SubjectType = Literal["content", "account", "ad", "page", "listing", "message"]
Allowance = Literal["never", "optional", "required"]
SOR_FIELDS = {
    "decision_visibility": transparency.DECISION_VISIBILITIES,
    "decision_monetary": transparency.DECISION_MONETARIES,
    "decision_provision": transparency.DECISION_PROVISIONS,
    "decision_account": transparency.DECISION_ACCOUNTS,
}
# The statement of reasons has one end date per kind of restriction.
END_DATE_FIELD = {
    "decision_visibility": "end_date_visibility_restriction",
    "decision_monetary": "end_date_monetary_restriction",
    "decision_provision": "end_date_service_restriction",
    "decision_account": "end_date_account_restriction",
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SorMapping(_Spec):
    decision_visibility: str | None = None
    decision_visibility_other: Annotated[str, Field(max_length=500)] | None = None
    decision_monetary: str | None = None
    decision_monetary_other: Annotated[str, Field(max_length=500)] | None = None
    decision_provision: str | None = None
    decision_account: str | None = None

    @property
    def field(self) -> str:
        """The one restriction field this action sets."""
        return next(f for f in SOR_FIELDS if getattr(self, f) is not None)

    @property
    def value(self) -> str:
        return getattr(self, self.field)


class ActionSpec(_Spec):
    kind: Literal["content", "monetary", "service", "account", "advertising", "strike",
                  "referral", "none", "restoration"]
    description: str
    restricts: bool = False
    target: Literal["subject", "owner"] = "subject"
    applies_to: list[SubjectType] = Field(min_length=1)
    territorial: Allowance = "never"
    duration: Allowance = "never"
    four_eyes: bool = False
    exclusive: bool = False
    sor: SorMapping | None = None
    restored_by: Code | None = None
    restoration: bool = False


class StrikeThreshold(_Spec):
    strikes: int = Field(ge=1, le=1000)
    action: Code
    duration: Duration | None = None


class StrikeRules(_Spec):
    expire_after: Duration = timedelta(days=90)
    thresholds: list[StrikeThreshold] = Field(default_factory=list)


class ActionCatalogueFile(_Spec):
    version: Annotated[str, Field(min_length=1, max_length=100)]
    strikes: StrikeRules = Field(default_factory=StrikeRules)
    actions: dict[Code, ActionSpec] = Field(min_length=1)


class PolicySpec(_Spec):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    area: PolicyArea
    ground: Literal["illegal_content", "incompatible_content"]
    legal_basis: Annotated[str, Field(max_length=500)] | None = None
    clause: Annotated[str, Field(max_length=500)] | None = None
    also_illegal: bool = False
    explanation: Annotated[str, Field(min_length=1, max_length=2000)]
    reference_url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=500)] | None = None
    dsa_category: str | None = None

    @model_validator(mode="after")
    def _ground_fields(self) -> PolicySpec:
        # The conditional fields of the Transparency Database's decision grounds.
        if self.ground == "illegal_content" and not self.legal_basis:
            raise ValueError("an illegal_content policy needs legal_basis (the law relied on)")
        if self.ground == "incompatible_content" and not self.clause:
            raise ValueError("an incompatible_content policy needs clause (the terms cited)")
        return self


class PolicyCatalogueFile(_Spec):
    version: Annotated[str, Field(min_length=1, max_length=100)]
    policies: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9-]*$", max_length=100)],
                   PolicySpec] = Field(min_length=1)


class CatalogueError(DocumentError):
    """A catalogue file cannot be used; ``errors`` name each bad entry."""

    document = "catalogue"


@dataclass(frozen=True)
class Catalogue:
    actions: dict[str, ActionSpec]
    strikes: StrikeRules
    policies: dict[str, PolicySpec]
    actions_version: str
    policies_version: str
    digest: str

    def action(self, code: str) -> ActionSpec | None:
        return self.actions.get(code)

    def choosable(self) -> list[str]:
        """Codes a reviewer may choose (restorations only come from reversals)."""
        return sorted(code for code, spec in self.actions.items() if not spec.restoration)


def load_catalogue(actions_path: Path = DEFAULT_ACTIONS_PATH,
                   policies_path: Path = DEFAULT_POLICIES_PATH) -> Catalogue:
    actions_text = read_document(actions_path, CatalogueError)
    policies_text = read_document(policies_path, CatalogueError)
    return parse_catalogue(actions_text, policies_text, str(actions_path), str(policies_path))


def parse_catalogue(actions_text: str, policies_text: str, actions_source: str = "<actions>",
                    policies_source: str = "<policies>") -> Catalogue:
    actions = _validated(ActionCatalogueFile, actions_text, actions_source)
    policies = _validated(PolicyCatalogueFile, policies_text, policies_source)
    if problems := action_problems(actions):
        raise CatalogueError.of(actions_source, problems)
    if problems := policy_problems(policies):
        raise CatalogueError.of(policies_source, problems)
    digest = hashlib.sha256((actions_text + "\0" + policies_text).encode()).hexdigest()[:16]
    return Catalogue(actions=dict(actions.actions), strikes=actions.strikes,
                     policies=dict(policies.policies), actions_version=actions.version,
                     policies_version=policies.version, digest=digest)


def action_problems(catalogue: ActionCatalogueFile) -> Problems:
    """What a schema cannot say: SoR values exist, restorations exist and are restorations,
    restricting actions map to the statement of reasons, thresholds name real actions."""
    problems = Problems()
    problem = problems.add

    for code, spec in catalogue.actions.items():
        where = f"actions.{code}"
        if spec.sor is not None:
            set_fields = [f for f in SOR_FIELDS if getattr(spec.sor, f) is not None]
            if len(set_fields) != 1:
                problem(f"{where}.sor", "must set exactly one of " + ", ".join(SOR_FIELDS),
                        "sor_field")
            for field in set_fields:
                value = getattr(spec.sor, field)
                if value not in SOR_FIELDS[field]:
                    problem(f"{where}.sor.{field}", f"{value!r} is not a Transparency Database "
                            f"value; use one of {', '.join(SOR_FIELDS[field])}", "sor_value")
            if spec.sor.decision_visibility == "DECISION_VISIBILITY_OTHER" \
                    and not spec.sor.decision_visibility_other:
                problem(f"{where}.sor.decision_visibility_other", "required with "
                        "DECISION_VISIBILITY_OTHER", "sor_other")
            if spec.sor.decision_monetary == "DECISION_MONETARY_OTHER" \
                    and not spec.sor.decision_monetary_other:
                problem(f"{where}.sor.decision_monetary_other", "required with "
                        "DECISION_MONETARY_OTHER", "sor_other")
        if spec.restricts and spec.sor is None:
            problem(f"{where}.sor", "a restricting action must say how it appears in the "
                    "statement of reasons", "sor_missing")
        if spec.restricts and spec.restored_by is None:
            problem(f"{where}.restored_by", "a restricting action needs the restoration that "
                    "undoes it on a reversed appeal", "restoration_missing")
        if spec.restored_by is not None:
            restoring = catalogue.actions.get(spec.restored_by)
            if restoring is None:
                problem(f"{where}.restored_by", f"unknown action {spec.restored_by!r}",
                        "unknown_action")
            elif not restoring.restoration:
                problem(f"{where}.restored_by", f"{spec.restored_by!r} is not a restoration",
                        "not_a_restoration")
        if spec.restoration and (spec.restricts or spec.four_eyes):
            problem(where, "a restoration neither restricts nor needs four-eyes",
                    "restoration_restricts")
    for index, threshold in enumerate(catalogue.strikes.thresholds):
        where = f"strikes.thresholds[{index}]"
        spec = catalogue.actions.get(threshold.action)
        if spec is None:
            problem(f"{where}.action", f"unknown action {threshold.action!r}", "unknown_action")
        elif spec.target != "owner" or not spec.restricts:
            problem(f"{where}.action", f"{threshold.action!r} must restrict the owner's account",
                    "threshold_action")
        elif spec.duration == "required" and threshold.duration is None:
            problem(f"{where}.duration", f"{threshold.action!r} is temporary: give a duration",
                    "duration_missing")
    counts = [t.strikes for t in catalogue.strikes.thresholds]
    if len(set(counts)) != len(counts):
        problem("strikes.thresholds", "two thresholds at the same number of strikes",
                "duplicate")
    return problems


def policy_problems(catalogue: PolicyCatalogueFile) -> Problems:
    problems = Problems()
    for policy_id, spec in catalogue.policies.items():
        if spec.dsa_category is not None and spec.dsa_category not in \
                transparency.STATEMENT_CATEGORIES:
            problems.add(f"policies.{policy_id}.dsa_category",
                         f"{spec.dsa_category!r} is not a Transparency Database category",
                         "sor_value")
    return problems


def _validated(model: type[M], text: str, source: str) -> M:
    return validated(model, yaml_mapping(text, source, CatalogueError), source, CatalogueError)
