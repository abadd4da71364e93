"""Reviewer and operator identity from signed bearer tokens (HS256 JWTs).

In production the tokens come from the identity provider; locally ``warden token`` mints
them. Claims: ``sub`` (reviewer id), ``skills`` (queue skills), ``roles``, ``aud``.

- Audience: each service accepts only tokens whose ``aud`` names it (``warden-routing``,
  ``warden-decision``, ...), so a token issued for the queues is no key to notify's
  delivery log. A token may name several services.
- Key ids: the JOSE header ``kid`` says which key signed the token. A service verifies
  with its current key (``WARDEN_REVIEWER_TOKEN_KID`` / ``_SECRET``) and with every key in
  ``WARDEN_REVIEWER_TOKEN_PREVIOUS_KEYS``; to rotate, add a new current key and keep the
  old one as previous until the tokens it signed have expired. A token without ``kid`` is
  checked against the current key only.
- Roles: ``reviewer`` works cases; ``lead`` and ``admin`` (``LEAD_ROLES``) may also do
  what leads do (transfers, policy reload) and everything a reviewer may; ``operator``
  runs the delivery side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warden.shared.clock import utcnow
from warden.shared.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
# The services a token may be issued for (its audiences).
SERVICE_NAMES = ("intake", "routing", "decision", "notify")
REVIEWER_ROLE = "reviewer"
LEAD_ROLES = frozenset({"lead", "admin"})
REVIEWER_ROLES = frozenset({REVIEWER_ROLE}) | LEAD_ROLES
OPERATOR_ROLE = "operator"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Declares the scheme in each service's OpenAPI document; the checks are ours (no auto 403).
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="ReviewerToken",
                           description="a reviewer/operator JWT issued for this service")


def audience(service: str) -> str:
    """The ``aud`` value a service accepts."""
    return f"warden-{service}"


@dataclass(frozen=True)
class Reviewer:
    id: str
    skills: frozenset[str]
    roles: frozenset[str]

    def has_skills(self, required: set[str] | frozenset[str]) -> bool:
        return set(required) <= self.skills


def issue_reviewer_token(secret: str, reviewer_id: str, skills: Iterable[str] = (),
                         roles: Iterable[str] = (REVIEWER_ROLE,),
                         ttl: timedelta = timedelta(hours=12), *, kid: str | None = None,
                         services: Iterable[str] = SERVICE_NAMES) -> str:
    """A token for ``services`` (every service unless narrowed), signed with ``secret``."""
    now = utcnow()
    claims = {"sub": reviewer_id, "skills": sorted(skills), "roles": sorted(roles),
              "aud": [audience(s) for s in services], "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM,
                      headers={"kid": kid} if kid else None)


def decode_reviewer_token(keys: Mapping[str, str], current_kid: str, token: str,
                          service: str) -> Reviewer:
    """The token's reviewer, if a known key signed it for ``service`` and it is in date."""
    try:
        kid = jwt.get_unverified_header(token).get("kid", current_kid)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid reviewer token: {exc}", headers=_CHALLENGE) from exc
    secret = keys.get(kid) if isinstance(kid, str) else None
    if secret is None:
        raise Unauthorized(f"reviewer token signed with an unknown key id {kid!r}",
                           headers=_CHALLENGE)
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience(service),
                            options={"require": ["sub", "exp", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("reviewer token expired", headers=_CHALLENGE) from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized(f"reviewer token not issued for {audience(service)!r}",
                           headers=_CHALLENGE) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid reviewer token: {exc}", headers=_CHALLENGE) from exc
    return Reviewer(id=str(claims["sub"]), skills=frozenset(_strings(claims.get("skills"))),
                    roles=frozenset(_strings(claims.get("roles"))))


def _strings(value) -> list[str]:
    """A claim that should be a list of strings; anything else grants nothing."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized("missing bearer token", headers=_CHALLENGE)
    return credentials.credentials.strip()


Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


def authenticated_caller(request: Request, credentials: Credentials) -> Reviewer:
    """The caller of this service, from the bearer token, whatever its roles."""
    settings = request.app.state.runtime.settings
    return decode_reviewer_token(settings.reviewer_token_keys(), settings.reviewer_token_kid,
                                 bearer_token(credentials), settings.service_name)


def caller_with_role(*roles: str):
    """FastAPI dependency factory: the caller, whose token must carry one of ``roles``."""
    wanted = frozenset(roles)

    def dependency(request: Request, credentials: Credentials) -> Reviewer:
        caller = authenticated_caller(request, credentials)
        if not caller.roles & wanted:
            raise Forbidden(f"the token carries none of the roles {sorted(wanted)}")
        return caller

    return dependency


# Reviewers work cases; leads and admins may do all a reviewer may.
reviewer_from_request = caller_with_role(*REVIEWER_ROLES)
# Operators run the delivery side (webhook log, redelivery, endpoints).
operator_from_request = caller_with_role(OPERATOR_ROLE)
