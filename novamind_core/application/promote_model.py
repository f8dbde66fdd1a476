"""Use cases: reviewers approve, reject and roll back model promotions.

Nothing reaches clients without an approval: the ``champion`` alias moves only here.
Every decision is written as tags on the version and as an audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.domain.model_registry import CHALLENGER, CHAMPION, ModelRegistry
from novamind_core.domain.ports import AuditTrail
from novamind_core.domain.security import Principal, Role


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
) -> str | None:
    """Make ``version`` the champion; return the version it replaces (or None)."""
    principal.require(Role.REVIEWER)
    candidate = registry.get(name, version)
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
    if not note.strip():
        raise ValidationError("a rejection needs a --note that says why")
    registry.set_tags(name, version, _decision_tags("rejected", principal.subject, note))
    challenger = registry.alias(name, CHALLENGER)
    if challenger is not None and challenger.version == version:
        registry.delete_alias(name, CHALLENGER)
    audit.record("promotion_rejected", f"{name}/{version}", reviewer=principal.subject)


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
