"""Promotion rules on a fake registry, and JWT tokens with roles."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from novamind_core.application.promote_model import approve, reject, reopen, rollback
from novamind_core.domain.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)
from novamind_core.domain.security import Principal, Role
from novamind_core.infrastructure.security.tokens import TokenService, check_api_key
from tests.support.fakes import FakeApprovals, FakeAudit, FakeRegistry

SECRET = "s" * 40
REVIEWER = Principal("alice", frozenset({Role.REVIEWER}))
ENGINEER = Principal("eve", frozenset({Role.ML_ENGINEER}))


def test_approve_moves_champion_records_who_and_drops_challenger():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True}), FakeAudit()
    registry.set_alias("m", "challenger", "1")
    assert (
        approve(registry, audit, REVIEWER, "m", "1", note="good", approvals=FakeApprovals()) is None
    )
    assert registry.aliases == {"champion": "1"}
    assert registry.tags["1"]["decision"] == "approved"
    assert registry.tags["1"]["decision.reviewer"] == "alice"
    assert approve(registry, audit, REVIEWER, "m", "2", approvals=FakeApprovals()) == "1"
    assert registry.tags["2"]["decision.previous_champion"] == "1"
    assert [e[0] for e in audit.entries] == ["promotion_approved", "promotion_approved"]


def test_only_reviewers_decide():
    registry, audit = FakeRegistry.with_gates({"1": True}), FakeAudit()
    with pytest.raises(AuthorizationError, match="reviewer role"):
        approve(registry, audit, ENGINEER, "m", "1", approvals=FakeApprovals())
    assert registry.aliases == {} and audit.entries == []


def test_failed_gates_need_override_and_reason():
    registry, audit = FakeRegistry.with_gates({"1": False}), FakeAudit()
    with pytest.raises(ValidationError, match="interval_coverage_within_5_points"):
        approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals())
    with pytest.raises(ValidationError, match="--reason"):
        approve(registry, audit, REVIEWER, "m", "1", override=True, approvals=FakeApprovals())
    approve(
        registry,
        audit,
        REVIEWER,
        "m",
        "1",
        override=True,
        reason="clinical need",
        approvals=FakeApprovals(),
    )
    assert registry.tags["1"]["decision.override"] == "true"
    assert registry.aliases["champion"] == "1"


def test_rollback_restores_the_replaced_champion_step_by_step():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True, "3": True}), FakeAudit()
    for v in ("1", "2", "3"):
        approve(registry, audit, REVIEWER, "m", v, approvals=FakeApprovals())
    assert rollback(registry, audit, REVIEWER, "m") == "2"
    assert registry.tags["3"]["decision"] == "rolled_back"
    assert rollback(registry, audit, REVIEWER, "m") == "1"
    with pytest.raises(NotFoundError, match="replaced no earlier champion"):
        rollback(registry, audit, REVIEWER, "m")


def test_reject_needs_a_note_and_cannot_hit_the_champion():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True}), FakeAudit()
    approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals())
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
                {
                    "sub": "bob",
                    "iss": "novamind",
                    "aud": "novamind-api",
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 3600,
                    "roles": ["admin"],
                },
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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"roles": 5}, "roles must be a list of role names"),
        ({"roles": "reviewer"}, "roles must be a list of role names"),
        ({"roles": [{"r": 1}]}, "roles must be a list of role names"),
        ({"sub": 7}, "invalid token: Subject must be a string"),
        ({"roles": ["root"]}, "token names an unknown role"),
    ],
)
def test_a_signed_token_with_malformed_claims_is_refused(changes, message):
    claims = {"sub": "x", "roles": ["clinician"], "iss": "novamind", "aud": "novamind-api"}
    claims |= {"iat": int(time.time()), "exp": int(time.time()) + 3600}
    token = jwt.encode(claims | changes, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=message):
        TokenService(SECRET).verify(token)


def test_the_approval_is_signed_before_the_alias_moves():
    registry, audit = FakeRegistry.with_gates({"1": True, "2": True}), FakeAudit()
    approvals = FakeApprovals(registry)
    approve(registry, audit, REVIEWER, "m", "1", approvals=approvals)
    approve(registry, audit, REVIEWER, "m", "2", approvals=approvals)
    assert approvals.signed == [("m", "1", "alice", False), ("m", "2", "alice", False)]
    assert approvals.champion_when_signed == [None, "1"]  # signed while the old one served


def test_whoever_launched_the_training_does_not_approve_it_unless_they_say_why():
    registry, audit = FakeRegistry.with_gates({"1": True}), FakeAudit()
    registry.tags["1"]["trained_by"] = "alice"
    with pytest.raises(AuthorizationError, match="another reviewer must approve it"):
        approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals())
    assert registry.aliases == {} and audit.entries == []
    approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals(), self_approval="solo")
    assert registry.tags["1"]["decision.self_approval"] == "solo"
    assert audit.entries[-1][2]["self_approval"] == "solo"


def test_a_rejected_version_is_approved_only_after_a_new_review():
    registry, audit = FakeRegistry.with_gates({"1": True}), FakeAudit()
    bob = Principal("bob", frozenset({Role.REVIEWER}))
    reject(registry, audit, bob, "m", "1", note="no")
    with pytest.raises(ValidationError, match="rejected by bob: it needs a new review"):
        approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals())
    with pytest.raises(ValidationError, match="needs a --note"):
        reopen(registry, audit, REVIEWER, "m", "1", note=" ")
    reopen(registry, audit, REVIEWER, "m", "1", note="recalibrated")
    with pytest.raises(ValidationError, match="not rejected"):
        reopen(registry, audit, REVIEWER, "m", "1", note="again")
    approve(registry, audit, REVIEWER, "m", "1", approvals=FakeApprovals())
    assert registry.aliases == {"champion": "1"}


def test_people_tokens_are_signed_with_a_key_the_verifiers_do_not_hold(tmp_path):
    from novamind_core.infrastructure.security.signing_keys import write_private_key
    from novamind_core.infrastructure.security.tokens import token_service
    from novamind_core.infrastructure.settings import load_settings

    public = write_private_key(tmp_path / "keys" / "token.pem")
    assert (tmp_path / "keys" / "token.pem").stat().st_mode & 0o777 == 0o600
    verifier = token_service(load_settings(jwt_public_key=public))
    with pytest.raises(ConfigurationError, match="only the token issuer holds it"):
        verifier.mint("mallory", [Role.REVIEWER])
    issuer = token_service(
        load_settings(jwt_public_key=public, jwt_signing_key_file=tmp_path / "keys" / "token.pem"),
        signing=True,
    )
    token = issuer.mint("alice", [Role.REVIEWER])
    assert verifier.verify(token).subject == "alice"
    with pytest.raises(ValidationError, match="at most 12 hours"):
        issuer.mint("alice", [Role.REVIEWER], timedelta(days=2))
    other = token_service(load_settings(jwt_public_key=public, jwt_audience="another-api"))
    with pytest.raises(AuthenticationError, match="Audience"):
        other.verify(token)
    hs = TokenService(SECRET).mint("alice", [Role.REVIEWER])  # a shared-secret token
    with pytest.raises(AuthenticationError):
        verifier.verify(hs)


def test_a_signing_key_others_can_read_is_refused(tmp_path):
    from novamind_core.infrastructure.security.signing_keys import (
        read_private_key,
        write_private_key,
    )

    path = tmp_path / "token.pem"
    write_private_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by its owner only"):
        read_private_key(path, "NOVAMIND_JWT_SIGNING_KEY_FILE")
