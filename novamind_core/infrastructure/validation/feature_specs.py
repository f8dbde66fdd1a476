"""Load the data contracts in ``feature_specs/`` into typed objects."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from novamind_core.domain.datasets import RAW_TABLES
from novamind_core.domain.errors import ConfigurationError

DType = Literal["string", "float", "datetime", "bool"]

DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[3] / "feature_specs"


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dtype: DType
    nullable: bool = False
    description: str = ""
    unit: str | None = None
    min: float | str | None = None
    max: float | str | None = None
    allowed: list[str] | None = None
    pattern: str | None = None
    not_in_future: bool = False


class OrderedPair(BaseModel):
    later: str
    earlier: str


class TableSpec(BaseModel):
    """The contract of one raw table."""

    model_config = ConfigDict(extra="forbid")

    table: str
    description: str = ""
    primary_key: list[str]
    identifier_columns: list[str] = Field(default_factory=list)
    entity_column: str | None = None
    time_column: str | None = None
    references: dict[str, str] = Field(default_factory=dict)
    at_least_one_of: list[str] = Field(default_factory=list)
    ordered_pairs: list[OrderedPair] = Field(default_factory=list)
    columns: dict[str, ColumnSpec]

    @model_validator(mode="after")
    def _names_exist(self) -> TableSpec:
        named = set(self.primary_key) | set(self.identifier_columns) | set(self.references)
        named |= set(self.at_least_one_of)
        named |= {c for c in (self.entity_column, self.time_column) if c}
        named |= {c for p in self.ordered_pairs for c in (p.later, p.earlier)}
        unknown = named - set(self.columns)
        if unknown:
            raise ValueError(f"names columns it does not declare: {sorted(unknown)}")
        return self

    def referenced(self, column: str) -> tuple[str, str]:
        table, _, target = self.references[column].partition(".")
        return table, target


def load_specs(directory: Path | None = None) -> dict[str, TableSpec]:
    """Every table's contract, keyed by table name, in dependency order."""
    directory = directory or DEFAULT_SPECS_DIR
    specs: dict[str, TableSpec] = {}
    for name in RAW_TABLES:
        path = directory / f"{name}.yaml"
        if not path.exists():
            raise ConfigurationError(f"data contract missing: {path}")
        try:
            spec = TableSpec.model_validate(yaml.safe_load(path.read_text("utf-8")))
        except (ValidationError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"data contract {path} is invalid: {exc}") from None
        if spec.table != name:
            raise ConfigurationError(f"{path} declares table {spec.table!r}, expected {name!r}")
        specs[name] = spec
    return specs
