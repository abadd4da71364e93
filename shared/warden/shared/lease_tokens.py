"""Lease tokens: routing's signed word that a reviewer holds a live lease on a case.

Routing grants leases; decision must know, without calling routing, that the reviewer who
records a decision holds one. Routing therefore answers a claim (and a renewal) with a
short-lived JWT signed with Ed25519 (``EdDSA``) for that reviewer, case and queue, expiring
with the lease. Decision holds only the public key: it can verify a token but never mint
one, so a compromised decision service cannot grant itself leases. A token travels with
the claim response, so there is no race between a claim and the decision that follows it
at once (claim events would have to reach decision first).

What a token cannot see: a lease released early stays provable until the token expires
(leases are short); a transfer is seen, because decision compares the token's queue with
the case's current queue from ``cases.routed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

ALGORITHM = "EdDSA"
ISSUER = "warden-routing"
AUDIENCE = "warden-decision"
HEADER = "Lease-Token"

# Local development key pair (``make run`` and tests). Production sets its own through
# WARDEN_ROUTING_LEASE_SIGNING_KEY (routing only) and WARDEN_DECISION_LEASE_VERIFY_KEY.
DEV_SIGNING_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIO99byeoiv/yq+a1XlTuvnIy+kMPz/3hbTZX9uKGfJLs
-----END PRIVATE KEY-----
"""
DEV_VERIFY_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAlLv+afaDIXMtLb2sm48sJGRwiBhp8mF7s9DyOQGbPTA=
-----END PUBLIC KEY-----
"""


@dataclass(frozen=True)
class Lease:
    reviewer_id: str
    case_id: uuid.UUID
    queue: str
    required_skills: frozenset[str]
    stage: str
    expires_at: datetime
    issued_at: datetime
    lease_id: str


class LeaseTokenInvalid(Exception):
    """Not a lease token routing signed (bad signature, issuer, audience or claims)."""


def mint(signing_key_pem: str, lease: Lease) -> str:
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": lease.reviewer_id, "case": str(lease.case_id),
        "queue": lease.queue, "skills": sorted(lease.required_skills), "stage": lease.stage,
        "iat": int(lease.issued_at.timestamp()), "exp": int(lease.expires_at.timestamp()),
        "jti": lease.lease_id,
    }
    return jwt.encode(claims, signing_key_pem, algorithm=ALGORITHM)


def read(verify_key_pem: str, token: str) -> Lease:
    """The lease a token proves, expired or not (the caller decides what an expired lease
    means, so that it can say so); ``LeaseTokenInvalid`` if routing did not sign it."""
    try:
        claims = jwt.decode(token, verify_key_pem, algorithms=[ALGORITHM], audience=AUDIENCE,
                            issuer=ISSUER, options={"verify_exp": False,
                                                    "require": ["sub", "exp", "case", "queue"]})
        return Lease(reviewer_id=str(claims["sub"]), case_id=uuid.UUID(str(claims["case"])),
                     queue=str(claims["queue"]),
                     required_skills=frozenset(claims.get("skills", [])),
                     stage=str(claims.get("stage", "review")),
                     expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
                     issued_at=datetime.fromtimestamp(int(claims.get("iat", 0)), UTC),
                     lease_id=str(claims.get("jti", "")))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise LeaseTokenInvalid(str(exc)) from exc
