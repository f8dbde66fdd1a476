"""Datasets as the platform handles them: validation reports and stored versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

RAW_TABLES: tuple[str, ...] = (
    "patients",
    "symptom_observations",
    "biometrics",
    "genotypes",
    "medications",
    "treatment_history",
)


@dataclass(frozen=True, slots=True)
class ValidationFailure:
    """One expectation that a table did not meet.

    ``examples`` holds a few offending values of the checked column; values of
    identifier columns are never kept (``None`` there).
    """

    table: str
    column: str | None
    expectation: str
    failing_count: int | None
    examples: tuple[str, ...] | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of validating every raw table against its data contract."""

    tables_checked: tuple[str, ...]
    expectations_evaluated: int
    failures: tuple[ValidationFailure, ...]
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failures

    def failures_for(self, table: str) -> list[ValidationFailure]:
        return [f for f in self.failures if f.table == table]


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """A pseudonymized, encrypted dataset kept in the patient store."""

    version: str
    fingerprint: str  # sha256 of the pseudonymized content
    created_at: datetime
    row_counts: dict[str, int]
    patients: int
