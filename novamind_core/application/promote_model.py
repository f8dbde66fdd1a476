"""Use cases: reviewers approve, reject, reopen and roll back model promotions.

Nothing reaches clients without an approval: the ``champion`` alias moves only here, and
only after the reviewer's signed approval of the version's exact artifacts is on the
version (servers load nothing else). The reviewer must not be the one who launched the
version's training (an explicit, audited self-approval serves a one-person setup), and a
rejected version needs a new review before it can be approved. Every decision is written
as tags on the version and as an audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from novamind_core.domain.errors import AuthorizationError, NotFoundError, ValidationError
from novamind_core.domain.model_registry import CHALLENGER, CHAMPION, ModelRegistry
from novamind_core.domain.ports import AuditTrail
from novamind_core.domain.security import Principal, Role


class ApprovalSigner(Protocol):
    """Signs an approval of a version's exact artifacts, with the reviewers' key."""

    def sign(self, name: str, version: str, reviewer: str, override: bool) -> None: ...


def _decision_tags(decision: str, reviewer: str, note: str, **extra: str) -> dict[str, str]:
    return {
        "decision": decision,
        "decision.reviewer": reviewer,
        "decision.note": note,
        "decision.at": datetime.now(UTC).isoformat(timespec="seconds"),
        **{f"decision.{k}": v for k, v in extra.items()},
    }


def approve(
    registry: ModelRegistry,
    audit: AuditTrail,
    principal: Principal,
    name: str,
    version: str,
    note: str = "",
    override: bool = False,
    reason: str = "",
    *,
    approvals: ApprovalSigner,
    self_approval: str = "",
) -> str | None:
    """Make ``version`` the champion; return the version it replaces (or None)."""
    principal.require(Role.REVIEWER)
    candidate = registry.get(name, version)
    if candidate.tags.get("decision") == "rejected":
        raise ValidationError(
            f"{name} version {version} was rejected by "
            f"{candidate.tags.get('decision.reviewer', 'a reviewer')}: it needs a new review "
            "before it can be approved (`novamind models reopen`)"
        )
    trained_by = candidate.tags.get("trained_by", "")
    if trained_by and trained_by == principal.subject and not self_approval.strip():
        raise AuthorizationError(
            f"{principal.subject} launched the training of {name} version {version}: another "
            "reviewer must approve it (in a one-person setup: --self-approval REASON, audited)"
        )
    if not candidate.gates_passed:
        if not override:
            raise ValidationError(
                f"{name} version {version} failed its gates ({', '.join(candidate.failed_gates)})"
                ": approving it needs --override with --reason"
            )
        if not reason.strip():
            raise ValidationError("--override needs a --reason that says why")
    current = registry.alias(name, CHAMPION)
    if current is not None and current.version == version:
        raise ValidationError(f"{name} version {version} is already the champion")
    approvals.sign(name, version, principal.subject, override)  # before the alias moves
    registry.set_tags(
        name,
        version,
        _decision_tags(
            "approved",
            principal.subject,
            note,
            override=str(override).lower(),
            reason=reason,
            previous_champion=current.version if current else "",
            self_approval=self_approval if trained_by == principal.subject else "",
        ),
    )
    registry.set_alias(name, CHAMPION, version)
    challenger = registry.alias(name, CHALLENGER)
    if challenger is not None and challenger.version == version:
        registry.delete_alias(name, CHALLENGER)
    audit.record(
        "promotion_approved",
        f"{name}/{version}",
        reviewer=principal.subject,
        override=override,
        previous_champion=current.version if current else None,
        trained_by=trained_by or None,
        self_approval=self_approval if trained_by == principal.subject else None,
    )
    return current.version if current else None


def reject(
    registry: ModelRegistry,
    audit: AuditTrail,
    principal: Principal,
    name: str,
    version: str,
    note: str,
) -> None:
    """Record a rejection; a rejected challenger loses its alias."""
    principal.require(Role.REVIEWER)
    registry.get(name, version)
    champion = registry.alias(name, CHAMPION)
    if champion is not None and champion.version == version:
        raise ValidationError(f"{name} version {version} is the champion: use rollback instead")
    _record_noted(registry, audit, principal, name, version, note, "rejected", "a rejection")
    challenger = registry.alias(name, CHALLENGER)
    if challenger is not None and challenger.version == version:
        registry.delete_alias(name, CHALLENGER)


def reopen(
    registry: ModelRegistry,
    audit: AuditTrail,
    principal: Principal,
    name: str,
    version: str,
    note: str,
) -> None:
    """A new review of a rejected version: it may be approved again."""
    principal.require(Role.REVIEWER)
    candidate = registry.get(name, version)
    if candidate.tags.get("decision") != "rejected":
        raise ValidationError(f"{name} version {version} is not rejected; nothing to reopen")
    what = "reopening a rejected version"
    _record_noted(registry, audit, principal, name, version, note, "reopened", what)


def _record_noted(registry, audit, principal, name, version, note, decision, what) -> None:
    """A decision that must say why: its tags on the version, and an audit entry."""
    if not note.strip():
        raise ValidationError(f"{what} needs a --note that says why")
    registry.set_tags(name, version, _decision_tags(decision, principal.subject, note))
    audit.record(f"promotion_{decision}", f"{name}/{version}", reviewer=principal.subject)


def rollback(
    registry: ModelRegistry, audit: AuditTrail, principal: Principal, name: str, note: str = ""
) -> str:
    """Move ``champion`` back to the version it replaced; return that version."""
    principal.require(Role.REVIEWER)
    current = registry.alias(name, CHAMPION)
    if current is None:
        raise NotFoundError(f"{name} has no champion to roll back")
    previous = current.tags.get("decision.previous_champion", "")
    if not previous:
        raise NotFoundError(f"{name} version {current.version} replaced no earlier champion")
    registry.set_tags(name, current.version, _decision_tags("rolled_back", principal.subject, note))
    registry.set_alias(name, CHAMPION, previous)
    audit.record(
        "promotion_rolled_back",
        f"{name}/{current.version}",
        reviewer=principal.subject,
        restored=previous,
    )
    return previous
