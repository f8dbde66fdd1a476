"""Registered model versions as the promotion workflow sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

CHALLENGER = "challenger"
CHAMPION = "champion"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def gates_passed(self) -> bool:
        return self.tags.get("gates_passed") == "true"

    @property
    def failed_gates(self) -> list[str]:
        return sorted(
            k.removeprefix("gate.")
            for k, v in self.tags.items()
            if k.startswith("gate.") and v != "true"
        )


class ModelRegistry(Protocol):
    """The operations of a model registry the promotion workflow needs."""

    def get(self, name: str, version: str) -> ModelVersion: ...

    def versions(self, name: str) -> list[ModelVersion]: ...

    def alias(self, name: str, alias: str) -> ModelVersion | None: ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_alias(self, name: str, alias: str) -> None: ...

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None: ...
