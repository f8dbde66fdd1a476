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


def stored_spec(spec: TableSpec) -> TableSpec:
    """The contract of a table as the store keeps it: ``patient_key``, no direct identifiers."""
    from novamind_core.domain.patients import AGE_BANDS

    def rename(name: str) -> str:
        return "patient_key" if name == "patient_id" else name

    columns = {}
    for name, column in spec.columns.items():
        if name == "name":
            continue
        if name == "birth_date":
            columns["age_band"] = ColumnSpec(
                dtype="string",
                allowed=[label for _, _, label in AGE_BANDS],
                description="Age band replacing the birth date",
            )
            continue
        columns[rename(name)] = column
    return TableSpec(
        table=spec.table,
        description=spec.description,
        primary_key=[rename(c) for c in spec.primary_key],
        identifier_columns=[
            rename(c)
            for c in spec.identifier_columns
            if c in spec.columns and c not in ("name", "birth_date")
        ],
        entity_column=rename(spec.entity_column) if spec.entity_column else None,
        time_column=spec.time_column,
        references={
            rename(k): v.replace("patients.patient_id", "patients.patient_key")
            for k, v in spec.references.items()
        },
        at_least_one_of=spec.at_least_one_of,
        ordered_pairs=spec.ordered_pairs,
        columns=columns,
    )
