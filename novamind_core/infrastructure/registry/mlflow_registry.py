"""ModelRegistry adapter over the MLflow model registry."""

from __future__ import annotations

from novamind_core.domain.errors import NotFoundError
from novamind_core.domain.model_registry import ModelVersion
from novamind_core.infrastructure.registry.tracking import configure


class MlflowModelRegistry:
    def __init__(self) -> None:
        from mlflow.tracking import MlflowClient

        configure()
        self.client = MlflowClient()

    def _aliases(self, name: str) -> dict[str, list[str]]:
        from mlflow.exceptions import MlflowException

        try:
            aliases = self.client.get_registered_model(name).aliases
        except MlflowException:
            raise NotFoundError(f"no registered model named {name!r}") from None
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        return by_version

    def names(self) -> list[str]:
        """Every registered model, by name."""
        return sorted(m.name for m in self.client.search_registered_models())

    def get(self, name: str, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        aliases = self._aliases(name)
        try:
            v = self.client.get_model_version(name, str(version))
        except MlflowException:
            known = ", ".join(m.version for m in self.versions(name)) or "none"
            raise NotFoundError(f"{name} has no version {version} (versions: {known})") from None
        return ModelVersion(
            name, str(v.version), dict(v.tags), tuple(sorted(aliases.get(str(v.version), [])))
        )

    def versions(self, name: str) -> list[ModelVersion]:
        aliases = self._aliases(name)
        found = self.client.search_model_versions(f"name='{name}'")
        return sorted(
            (
                ModelVersion(
                    name,
                    str(v.version),
                    dict(v.tags),
                    tuple(sorted(aliases.get(str(v.version), []))),
                )
                for v in found
            ),
            key=lambda m: int(m.version),
        )

    def alias(self, name: str, alias: str) -> ModelVersion | None:
        from mlflow.exceptions import MlflowException

        try:
            v = self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None
        return self.get(name, str(v.version))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))

    def run_id(self, name: str, version: str) -> str:
        return self.client.get_model_version(name, str(version)).run_id
