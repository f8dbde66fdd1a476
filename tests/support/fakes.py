"""In-memory stand-ins for the platform's ports, shared by the tests that use fakes."""

from __future__ import annotations

import pandas as pd

from novamind_core.domain.errors import NotFoundError
from novamind_core.domain.model_registry import CHAMPION, ModelVersion


class FakeRegistry:
    """The ``ModelRegistry`` port in memory: versions with tags, and aliases."""

    def __init__(self, tags: dict[str, dict[str, str]], aliases: dict[str, str] | None = None):
        self.tags = {version: dict(t) for version, t in tags.items()}
        self.aliases: dict[str, str] = dict(aliases or {})

    @classmethod
    def with_gates(cls, versions: dict[str, bool]) -> FakeRegistry:
        """Versions whose gates passed (True) or whose coverage gate failed (False)."""
        return cls(
            {
                v: {
                    "gates_passed": str(ok).lower(),
                    **({} if ok else {"gate.interval_coverage_within_5_points": "false"}),
                }
                for v, ok in versions.items()
            }
        )

    @classmethod
    def with_champion(cls, version: str | None) -> FakeRegistry:
        """One version, the champion (or no version at all)."""
        if version is None:
            return cls({})
        return cls({version: {}}, {CHAMPION: version})

    def get(self, name, version):
        if version not in self.tags:
            raise NotFoundError(f"no version {version}")
        held = tuple(sorted(a for a, v in self.aliases.items() if v == version))
        return ModelVersion(name, version, dict(self.tags[version]), held)

    def versions(self, name):
        return [self.get(name, v) for v in self.tags]

    def alias(self, name, alias):
        return self.get(name, self.aliases[alias]) if alias in self.aliases else None

    def set_alias(self, name, alias, version):
        self.aliases[alias] = version

    def delete_alias(self, name, alias):
        self.aliases.pop(alias, None)

    def set_tags(self, name, version, tags):
        self.tags[version].update(tags)


class FakeAudit:
    """The ``AuditTrail`` port: entries kept as (action, resource, details)."""

    def __init__(self):
        self.entries: list[tuple[str, str, dict]] = []

    def record(self, action, resource, **details):
        self.entries.append((action, resource, details))


class FakeReferences:
    """Drift references by (model, version); asking for a missing one is NotFoundError."""

    def __init__(self, frames: dict[tuple[str, str], pd.DataFrame]):
        self.frames = frames
        self.asked: list[tuple[str, str]] = []

    def reference(self, name, version):
        self.asked.append((name, version))
        if (name, version) not in self.frames:
            raise NotFoundError(f"{name} version {version} has no drift reference")
        return self.frames[(name, version)]


class FakeApprovals:
    """The ``ApprovalSigner`` port: remembers what was signed, and the alias at the time."""

    def __init__(self, registry: FakeRegistry | None = None):
        self.registry = registry
        self.signed: list[tuple[str, str, str, bool]] = []
        self.champion_when_signed: list[str | None] = []

    def sign(self, name, version, reviewer, override):
        self.signed.append((name, version, reviewer, override))
        if self.registry is not None:
            self.champion_when_signed.append(self.registry.aliases.get(CHAMPION))
