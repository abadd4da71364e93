"""Reviewer identity from signed bearer tokens (HS256 JWTs).

In production the tokens come from the identity provider; locally ``warden token``
mints them. Claims: ``sub`` (reviewer id), ``skills`` (queue skills), ``roles``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Request

from warden.shared.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
AUDIENCE = "warden-reviewers"


@dataclass(frozen=True)
class Reviewer:
    id: str
    skills: frozenset[str]
    roles: frozenset[str]

    def has_skills(self, required: set[str] | frozenset[str]) -> bool:
        return set(required) <= self.skills


def issue_reviewer_token(secret: str, reviewer_id: str, skills: list[str] = (),
                         roles: list[str] = ("reviewer",), ttl: timedelta = timedelta(hours=12)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": reviewer_id, "skills": sorted(skills), "roles": sorted(roles),
              "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_reviewer_token(secret: str, token: str) -> Reviewer:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("reviewer token expired", headers={"WWW-Authenticate": "Bearer"}) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid reviewer token: {exc}",
                           headers={"WWW-Authenticate": "Bearer"}) from exc
    return Reviewer(id=str(claims["sub"]), skills=frozenset(claims.get("skills", [])),
                    roles=frozenset(claims.get("roles", [])))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def reviewer_from_request(request: Request) -> Reviewer:
    """FastAPI dependency: the calling reviewer (needs ``reviewer_token_secret`` in settings)."""
    secret = request.app.state.runtime.settings.reviewer_token_secret
    reviewer = decode_reviewer_token(secret, bearer_token(request))
    if "reviewer" not in reviewer.roles and "lead" not in reviewer.roles:
        raise Forbidden("the token does not carry the reviewer role")
    return reviewer


def caller_with_role(*roles: str):
    """FastAPI dependency factory: the caller, whose token must carry one of ``roles``."""
    wanted = frozenset(roles)

    def dependency(request: Request) -> Reviewer:
        secret = request.app.state.runtime.settings.reviewer_token_secret
        caller = decode_reviewer_token(secret, bearer_token(request))
        if not caller.roles & wanted:
            raise Forbidden(f"the token carries none of the roles {sorted(wanted)}")
        return caller

    return dependency


# Operators run the delivery side (webhook log, redelivery, endpoints).
operator_from_request = caller_with_role("operator")
