"""Interfaces the application layer needs; infrastructure adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from novamind_core.domain.datasets import DatasetVersion, ValidationFailure, ValidationReport

Tables = Mapping[str, pd.DataFrame]


class RawDataSource(Protocol):
    """Raw source-system tables, and the problems met while reading them."""

    def read(self) -> tuple[dict[str, pd.DataFrame], list[ValidationFailure]]: ...


class DatasetValidator(Protocol):
    """Checks raw tables against the data contracts."""

    def validate(
        self, tables: Tables, problems: list[ValidationFailure] | None = None
    ) -> tuple[ValidationReport, dict[str, Any]]: ...


class Pseudonymizer(Protocol):
    """Replaces patient identifiers by keyed-hash pseudonyms."""

    def pseudonymize_series(self, values: pd.Series) -> pd.Series: ...


class PatientDataStore(Protocol):
    """Keeps pseudonymized tables encrypted, as immutable dataset versions."""

    def write(self, tables: Tables, metadata: Mapping[str, object]) -> DatasetVersion: ...

    def read(self, version: str, table: str) -> pd.DataFrame: ...

    def versions(self) -> list[DatasetVersion]: ...

    def find_by_fingerprint(self, fingerprint: str) -> DatasetVersion | None: ...

    def fingerprint(self, tables: Tables) -> str: ...


class AuditTrail(Protocol):
    """Append-only record of who touched patient data, and how."""

    def record(self, action: str, resource: str, **details: object) -> None: ...
