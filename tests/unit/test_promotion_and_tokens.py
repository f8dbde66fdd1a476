"""Promotion rules on a fake registry, and JWT tokens with roles."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from novamind_core.application.promote_model import approve, reject, rollback
from novamind_core.domain.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)
from novamind_core.domain.security import Principal, Role
from novamind_core.infrastructure.security.tokens import TokenService, check_api_key
from tests.support.fakes import FakeAudit, FakeRegistry

SECRET = "s" * 40
REVIEWER = Principal("alice", frozenset({Role.REVIEWER}))
ENGINEER = Principal("eve", frozenset({Role.ML_ENGINEER}))


def test_approve_moves_champion_records_who_and_drops_challenger():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True}), FakeAudit()
    registry.set_alias("m", "challenger", "1")
    assert approve(registry, audit, REVIEWER, "m", "1", note="good") is None
    assert registry.aliases == {"champion": "1"}
    assert registry.tags["1"]["decision"] == "approved"
    assert registry.tags["1"]["decision.reviewer"] == "alice"
    assert approve(registry, audit, REVIEWER, "m", "2") == "1"
    assert registry.tags["2"]["decision.previous_champion"] == "1"
    assert [e[0] for e in audit.entries] == ["promotion_approved", "promotion_approved"]


def test_only_reviewers_decide():
    registry, audit = FakeRegistry.with_gates({"1": True}), FakeAudit()
    with pytest.raises(AuthorizationError, match="reviewer role"):
        approve(registry, audit, ENGINEER, "m", "1")
    assert registry.aliases == {} and audit.entries == []


def test_failed_gates_need_override_and_reason():
    registry, audit = FakeRegistry.with_gates({"1": False}), FakeAudit()
    with pytest.raises(ValidationError, match="interval_coverage_within_5_points"):
        approve(registry, audit, REVIEWER, "m", "1")
    with pytest.raises(ValidationError, match="--reason"):
        approve(registry, audit, REVIEWER, "m", "1", override=True)
    approve(registry, audit, REVIEWER, "m", "1", override=True, reason="clinical need")
    assert registry.tags["1"]["decision.override"] == "true"
    assert registry.aliases["champion"] == "1"


def test_rollback_restores_the_replaced_champion_step_by_step():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True, "3": True}), FakeAudit()
    for v in ("1", "2", "3"):
        approve(registry, audit, REVIEWER, "m", v)
    assert rollback(registry, audit, REVIEWER, "m") == "2"
    assert registry.tags["3"]["decision"] == "rolled_back"
    assert rollback(registry, audit, REVIEWER, "m") == "1"
    with pytest.raises(NotFoundError, match="replaced no earlier champion"):
        rollback(registry, audit, REVIEWER, "m")


def test_reject_needs_a_note_and_cannot_hit_the_champion():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True}), FakeAudit()
    approve(registry, audit, REVIEWER, "m", "1")
    registry.set_alias("m", "challenger", "2")
    with pytest.raises(ValidationError, match="rollback"):
        reject(registry, audit, REVIEWER, "m", "1", note="x")
    with pytest.raises(ValidationError, match="--note"):
        reject(registry, audit, REVIEWER, "m", "2", note=" ")
    reject(registry, audit, REVIEWER, "m", "2", note="worse at horizon 7")
    assert "challenger" not in registry.aliases
    assert registry.tags["2"]["decision"] == "rejected"


def test_tokens_round_trip_with_roles():
    service = TokenService(SECRET)
    principal = service.verify(service.mint("bob", [Role.CLINICIAN, Role.REVIEWER]))
    assert principal.subject == "bob"
    assert principal.roles == {Role.CLINICIAN, Role.REVIEWER}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: "", "missing bearer token"),
        (lambda s: s.mint("bob", [Role.CLINICIAN], timedelta(seconds=-5)), "token expired"),
        (lambda s: TokenService("x" * 40).mint("bob", [Role.REVIEWER]), "signature is invalid"),
        (lambda s: "not.a.token", "invalid token"),
        (
            lambda s: jwt.encode(
                {"sub": "bob", "iss": "novamind", "exp": 9999999999, "roles": ["admin"]},
                SECRET,
                algorithm="HS256",
            ),
            "unknown role",
        ),
        (
            lambda s: jwt.encode(
                {"sub": "bob", "iss": "novamind", "exp": 9999999999, "roles": ["reviewer"]},
                None,
                algorithm="none",
            ),
            "invalid token",
        ),
    ],
)
def test_bad_tokens_are_refused(make, message):
    service = TokenService(SECRET)
    with pytest.raises(AuthenticationError, match=message):
        service.verify(make(service))


def test_token_service_needs_a_strong_secret():
    with pytest.raises(ConfigurationError, match="NOVAMIND_JWT_SECRET is not set"):
        TokenService(None)
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        TokenService("short")


def test_api_key_check():
    assert check_api_key("k" * 20, "k" * 20).roles == {Role.SERVICE}
    with pytest.raises(AuthenticationError, match="invalid API key"):
        check_api_key("wrong", "k" * 20)
    with pytest.raises(AuthenticationError, match="not enabled"):
        check_api_key("k", None)
