"""API keys, scopes and the token-bucket rate limit, without I/O (time is passed in)."""

from __future__ import annotations

import uuid

import pytest

from warden.intake.access import (
    ALL_SCOPES,
    READ_SCOPE,
    may_submit_anything,
    require_read,
    require_submit,
    submit_scope,
)
from warden.intake.middleware import is_json_media_type
from warden.shared.apikeys.keys import (
    ClientIdentity,
    RateLimiter,
    TokenBucket,
    generate_api_key,
    hash_api_key,
    unknown_scopes,
)
from warden.shared.errors import Forbidden


def client(*scopes: str, rate: float | None = None, burst: int | None = None) -> ClientIdentity:
    return ClientIdentity(id=uuid.uuid4(), name="upstream", scopes=frozenset(scopes),
                          rate_per_s=rate, burst=burst)


def test_keys_are_random_and_stored_as_their_sha256():
    first, second = generate_api_key(), generate_api_key()
    assert first != second and len(first) > 40
    assert hash_api_key(first) == hash_api_key(first)
    assert len(hash_api_key(first)) == 64 and first not in hash_api_key(first)


def test_every_channel_has_a_submit_scope_plus_read():
    assert submit_scope("regulator") == "submit:regulator"
    assert READ_SCOPE in ALL_SCOPES and len(ALL_SCOPES) == 7
    assert unknown_scopes(["submit:user", "submit:everything"], ALL_SCOPES) == [
        "submit:everything"]


def test_scope_checks():
    user_only = client("submit:user")
    require_submit(user_only, "user")
    assert may_submit_anything(user_only)
    with pytest.raises(Forbidden, match="submit:regulator"):
        require_submit(user_only, "regulator")
    with pytest.raises(Forbidden, match="reports:read"):
        require_read(user_only)
    require_read(client(READ_SCOPE))
    assert not may_submit_anything(client(READ_SCOPE))


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2.0, capacity=3.0, tokens=3.0, updated=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)


def test_rate_limiter_is_per_client_and_says_how_long_to_wait():
    limiter = RateLimiter(default_rate=1.0, default_burst=2)
    noisy, quiet = client("submit:user"), client("submit:user")
    assert [limiter.retry_after(noisy, 100.0) for _ in range(3)] == [0, 0, 1]
    assert limiter.retry_after(quiet, 100.0) == 0
    assert limiter.retry_after(noisy, 101.0) == 0


def test_a_client_s_own_rate_overrides_the_default():
    limiter = RateLimiter(default_rate=1.0, default_burst=1)
    fast = client("submit:user", rate=100.0, burst=50)
    assert all(limiter.retry_after(fast, 0.0) == 0 for _ in range(50))
    assert limiter.retry_after(fast, 0.0) == 1


@pytest.mark.parametrize("value, ok", [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("Application/JSON", True), ("application/cloudevents+json", True),
    ("text/plain", False), ("", False), ("application/x-www-form-urlencoded", False),
])
def test_json_media_types(value, ok):
    assert is_json_media_type(value) is ok
