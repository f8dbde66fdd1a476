"""Reviewers' approval keys for tests that serve a registered version."""

from __future__ import annotations

from pathlib import Path

from novamind_core.infrastructure.registry.approvals import MlflowApprovals
from novamind_core.infrastructure.security.signing_keys import (
    read_private_key,
    write_private_key,
)


def approval_keys(folder: Path) -> tuple[str, Path]:
    """A reviewers' key pair: (public key text for NOVAMIND_APPROVAL_PUBLIC_KEY, PEM path)."""
    pem = folder / "approval-signing.pem"
    return write_private_key(pem), pem


def sign_approval(pem: Path, model: str, version: str, reviewer: str = "test-reviewer") -> None:
    """What `novamind models approve` signs, without moving the alias."""
    key = read_private_key(pem, "approval key")
    MlflowApprovals(signing_key=key).sign(model, str(version), reviewer, override=False)
