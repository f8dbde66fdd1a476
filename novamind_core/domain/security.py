"""Who may do what: roles and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from novamind_core.domain.errors import AuthorizationError


class Role(StrEnum):
    CLINICIAN = "clinician"
    ML_ENGINEER = "ml_engineer"
    REVIEWER = "reviewer"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (from a verified token or API key)."""

    subject: str
    roles: frozenset[Role]

    def require(self, *allowed: Role) -> None:
        """Raise AuthorizationError unless the principal holds one of ``allowed``."""
        if not self.roles & set(allowed):
            needed = " or ".join(r.value for r in allowed)
            held = ", ".join(sorted(r.value for r in self.roles)) or "none"
            raise AuthorizationError(f"this needs the {needed} role; {self.subject} has {held}")
