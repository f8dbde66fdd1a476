"""The serving middleware's cache of verified bearer tokens."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from novamind_core.domain.errors import AuthenticationError
from novamind_core.domain.security import Role
from novamind_core.infrastructure.security.tokens import TokenService
from novamind_core.infrastructure.serving.auth import VerifiedTokens

SECRET = "s" * 40


class CountingTokens(TokenService):
    def __init__(self):
        super().__init__(SECRET)
        self.verified = 0

    def verify_until(self, token):
        self.verified += 1
        return super().verify_until(token)


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def test_a_token_is_verified_once_and_then_served_from_the_cache():
    tokens = CountingTokens()
    cache = VerifiedTokens(tokens)
    token = tokens.mint("bob", [Role.CLINICIAN])
    first, second = cache.principal(token), cache.principal(token)
    assert first == second
    assert first.subject == "bob" and first.roles == {Role.CLINICIAN}
    assert tokens.verified == 1


def test_a_forged_copy_of_a_cached_token_is_still_refused():
    tokens = CountingTokens()
    cache = VerifiedTokens(tokens)
    token = tokens.mint("bob", [Role.CLINICIAN])
    cache.principal(token)
    header, claims, signature = token.split(".")
    forged = f"{header}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(AuthenticationError, match=r"signature is invalid|invalid token"):
        cache.principal(forged)
    other = TokenService("x" * 40).mint("bob", [Role.REVIEWER])
    with pytest.raises(AuthenticationError, match="signature is invalid"):
        cache.principal(other)
    assert tokens.verified == 3  # each refusal was a real check, not a cache answer


def test_a_cached_token_is_refused_once_it_expires():
    tokens = CountingTokens()
    clock = Clock()
    cache = VerifiedTokens(tokens, clock=clock)
    token = tokens.mint("bob", [Role.SERVICE], ttl=timedelta(minutes=5))
    assert cache.principal(token).subject == "bob"
    clock.now += 299
    assert cache.principal(token).subject == "bob"
    clock.now += 2
    with pytest.raises(AuthenticationError, match="token expired"):
        cache.principal(token)


def test_the_cache_keeps_at_most_size_tokens():
    tokens = CountingTokens()
    cache = VerifiedTokens(tokens, size=2)
    minted = [tokens.mint(f"user{i}", [Role.CLINICIAN]) for i in range(3)]
    for token in minted:
        cache.principal(token)
    cache.principal(minted[0])  # dropped as the oldest: verified again
    assert tokens.verified == 4
    cache.principal(minted[2])
    assert tokens.verified == 4
