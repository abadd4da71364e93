"""Actions and policies: what a decision may do to its subject, under which policy, with
which strikes, and what undoes it on a reversed appeal."""

from __future__ import annotations

from datetime import UTC, datetime

from warden.decision.catalogue import Catalogue, PolicySpec
from warden.decision.domain.cases import ActionRequest
from warden.decision.domain.cases import invalid as _invalid
from warden.shared.contracts.countries import ISO_3166_ALPHA2
from warden.shared.contracts.events import ActionTaken, Channel, PolicyGround, Subject


def owner_of(subject: Subject) -> str | None:
    """The account that answers for the subject: its owner, or the account itself."""
    return subject.id if subject.type == "account" else subject.owner_id


def check_territorial_scope(scope: list[str], field_path: str) -> list[str]:
    """Upper-cased, de-duplicated ISO 3166-1 alpha-2 codes, or a 422 naming the bad one."""
    cleaned: list[str] = []
    for index, code in enumerate(scope):
        upper = code.strip().upper() if isinstance(code, str) else ""
        if upper not in ISO_3166_ALPHA2:
            raise _invalid(f"{field_path}[{index}]", f"{code!r} is not an ISO 3166-1 alpha-2 "
                           "country code", "country_code")
        if upper not in cleaned:
            cleaned.append(upper)
    return cleaned


def cite_policy(catalogue: Catalogue, policy_id: str) -> tuple[PolicySpec, PolicyGround]:
    spec = catalogue.policies.get(policy_id)
    if spec is None:
        raise _invalid("body.policy_id", f"unknown policy {policy_id!r}; the catalogue has "
                       f"{', '.join(sorted(catalogue.policies))}", "unknown_policy")
    return spec, PolicyGround(
        policy_id=policy_id, policy_version=spec.version, title=spec.title,
        policy_area=spec.area.value, ground=spec.ground, legal_basis=spec.legal_basis,
        clause=spec.clause, explanation=spec.explanation, reference_url=spec.reference_url)


def check_action_codes(catalogue: Catalogue, requests: list[ActionRequest],
                       field_path: str = "body.actions") -> None:
    """The codes alone, judged with the body before any case is looked up."""
    for index, request in enumerate(requests):
        spec = catalogue.action(request.code)
        if spec is None or spec.restoration:
            raise _invalid(f"{field_path}[{index}].code", f"unknown action {request.code!r}; "
                           f"choose one of {', '.join(catalogue.choosable())}", "unknown_action")


def plan_actions(catalogue: Catalogue, subject: Subject, requests: list[ActionRequest], *,
                 default_scope: list[str], now: datetime, active_strikes: int,
                 field_path: str = "body.actions") -> list[ActionTaken]:
    """Validate the chosen actions against the catalogue and the subject, and add what the
    strike thresholds call for. Raises ``InvalidInput`` naming the offending field."""
    if not requests:
        raise _invalid(field_path, "choose at least one action (no_action when nothing is "
                       "restricted)", "too_short")
    scope = check_territorial_scope(default_scope, "body.territorial_scope")
    taken: list[ActionTaken] = []
    seen: set[str] = set()
    for index, request in enumerate(requests):
        where = f"{field_path}[{index}]"
        spec = catalogue.action(request.code)
        if spec is None or spec.restoration:
            raise _invalid(f"{where}.code", f"unknown action {request.code!r}; choose one of "
                           f"{', '.join(catalogue.choosable())}", "unknown_action")
        if request.code in seen:
            raise _invalid(f"{where}.code", f"{request.code!r} is chosen twice", "duplicate")
        seen.add(request.code)
        if subject.type not in spec.applies_to:
            raise _invalid(f"{where}.code", f"{request.code!r} cannot be taken on a "
                           f"{subject.type}; it applies to {', '.join(spec.applies_to)}",
                           "not_for_subject_type")
        if spec.exclusive and len(requests) > 1:
            raise _invalid(f"{where}.code", f"{request.code!r} cannot be combined with other "
                           "actions", "exclusive")
        action_scope = scope if request.territorial_scope is None else \
            check_territorial_scope(request.territorial_scope, f"{where}.territorial_scope")
        if action_scope and spec.territorial == "never":
            raise _invalid(f"{where}.territorial_scope", f"{request.code!r} cannot be limited "
                           "to some countries", "not_territorial")
        if not action_scope and spec.territorial == "required":
            raise _invalid(f"{where}.territorial_scope", f"{request.code!r} needs the countries "
                           "it applies in", "missing")
        taken.append(_action(spec_code=request.code, catalogue=catalogue, subject=subject,
                             scope=action_scope, ends_at=request.ends_at, now=now,
                             where=where))
    if "strike" in seen:
        taken.extend(strike_consequences(catalogue, subject, active_strikes + 1, seen, now))
    return taken


def _action(*, spec_code: str, catalogue: Catalogue, subject: Subject, scope: list[str],
            ends_at: datetime | None, now: datetime, where: str,
            added_by_rule: str | None = None, restores: str | None = None) -> ActionTaken:
    spec = catalogue.actions[spec_code]
    if ends_at is not None:
        ends_at = ends_at if ends_at.tzinfo else ends_at.replace(tzinfo=UTC)
    if spec.duration == "required" and ends_at is None:
        raise _invalid(f"{where}.ends_at", f"{spec_code!r} is temporary: give its end date",
                       "missing")
    if spec.duration == "never" and ends_at is not None:
        raise _invalid(f"{where}.ends_at", f"{spec_code!r} has no end date", "not_temporary")
    if ends_at is not None and ends_at <= now:
        raise _invalid(f"{where}.ends_at", "the end date must be in the future", "range")
    target_id = subject.id if spec.target == "subject" else owner_of(subject)
    if target_id is None:
        raise _invalid(f"{where}.code", f"{spec_code!r} applies to the owner's account, and "
                       "the subject has no known owner", "no_owner")
    return ActionTaken(code=spec_code, kind=spec.kind, restricts=spec.restricts,
                       target=spec.target, target_id=target_id, territorial_scope=scope,
                       starts_at=now, ends_at=ends_at, added_by_rule=added_by_rule,
                       restores=restores)


def strike_consequences(catalogue: Catalogue, subject: Subject, strikes_after: int,
                        chosen: set[str], now: datetime) -> list[ActionTaken]:
    """The restriction a threshold adds when this strike makes the count reach it exactly
    (once per threshold: later strikes do not repeat it)."""
    added = []
    for threshold in catalogue.strikes.thresholds:
        if threshold.strikes == strikes_after and threshold.action not in chosen:
            added.append(_action(
                spec_code=threshold.action, catalogue=catalogue, subject=subject, scope=[],
                ends_at=now + threshold.duration if threshold.duration else None, now=now,
                where="strikes", added_by_rule=f"strike_threshold:{threshold.strikes}"))
    return added


def needs_four_eyes(catalogue: Catalogue, actions: list[ActionTaken]) -> bool:
    return any(catalogue.actions[a.code].four_eyes for a in actions if a.code in catalogue.actions)


def restricts(actions: list[ActionTaken]) -> bool:
    return any(a.restricts for a in actions)


def reversal_actions(catalogue: Catalogue, original: list[ActionTaken], *,
                     keep: set[str] = frozenset(), now: datetime) -> list[ActionTaken]:
    """What undoes the original's restrictions (except those kept by a modification)."""
    restoring = []
    for action in original:
        spec = catalogue.actions.get(action.code)
        if not action.restricts or action.code in keep or spec is None or not spec.restored_by:
            continue
        restoration = catalogue.actions[spec.restored_by]
        restoring.append(ActionTaken(
            code=spec.restored_by, kind="restoration", restricts=False,
            target=restoration.target, target_id=action.target_id,
            territorial_scope=action.territorial_scope, starts_at=now, restores=action.code))
    return restoring


def automated_flags(channels: list[str], *, automated_detection: bool | None,
                    automated_decision: str | None) -> tuple[bool, str]:
    """A reviewer's decision is at most partially automated; detection defaults to whether an
    automated detector reported the case."""
    detection = automated_detection if automated_detection is not None \
        else Channel.AUTOMATED.value in channels
    return detection, automated_decision or "not_automated"
