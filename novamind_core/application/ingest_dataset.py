"""Use cases: validate raw tables, and ingest them into the secure store (all or nothing)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from novamind_core.application.deidentify import deidentify
from novamind_core.domain.datasets import DatasetVersion, ValidationReport
from novamind_core.domain.errors import ValidationError
from novamind_core.domain.ports import (
    AuditTrail,
    DatasetValidator,
    PatientDataStore,
    Pseudonymizer,
    RawDataSource,
)

log = logging.getLogger(__name__)


class DatasetRejectedError(ValidationError):
    """The raw dataset broke its data contracts; nothing was stored."""

    def __init__(self, report: ValidationReport) -> None:
        failing = sorted({f.table for f in report.failures})
        super().__init__(
            f"dataset rejected: {len(report.failures)} failed expectation(s) in "
            f"{', '.join(failing)}; nothing was stored"
        )
        self.report = report


@dataclass(frozen=True)
class Validated:
    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    details: dict[str, Any]


@dataclass(frozen=True)
class IngestOutcome:
    version: DatasetVersion
    created: bool  # False when identical content was already stored
    report: ValidationReport


def validate_dataset(
    source: RawDataSource, validator: DatasetValidator, audit: AuditTrail, source_label: str
) -> Validated:
    """Read every raw table (an audited read) and check it against its contract."""
    started = time.perf_counter()
    tables, problems = source.read()
    audit.record("read", source_label, purpose="validate", tables=sorted(tables))
    report, details = validator.validate(tables, problems)
    log.info(
        "validated %d tables: %d expectations evaluated, %d failed",
        len(report.tables_checked),
        report.expectations_evaluated,
        len(report.failures),
        extra={"duration_ms": round((time.perf_counter() - started) * 1000)},
    )
    return Validated(tables, report, details)


def ingest_dataset(
    validated: Validated,
    pseudonymizer: Pseudonymizer,
    store: PatientDataStore,
    audit: AuditTrail,
    source_label: str,
) -> IngestOutcome:
    """Store a validated dataset pseudonymized and encrypted, as a new version.

    Invalid data raises DatasetRejectedError before anything is written. Content that
    is already stored is not written twice: the existing version is returned.
    """
    report = validated.report
    started = time.perf_counter()
    if not report.success:
        audit.record("ingest_rejected", source_label, failures=len(report.failures))
        log.warning("ingest rejected: %d failed expectations; nothing stored", len(report.failures))
        raise DatasetRejectedError(report)
    stored = deidentify(validated.tables, pseudonymizer, as_of=_as_of(validated.tables))
    fingerprint = store.fingerprint(stored)
    existing = store.find_by_fingerprint(fingerprint)
    if existing is not None:
        audit.record("ingest_unchanged", existing.version, fingerprint=fingerprint)
        log.info("content already stored as %s; nothing written", existing.version)
        return IngestOutcome(existing, False, report)
    version = store.write(
        stored,
        {"patients": len(stored["patients"]), "source": source_label},
    )
    audit.record(
        "write",
        version.version,
        purpose="ingest",
        fingerprint=version.fingerprint,
        rows=version.row_counts,
    )
    log.info(
        "stored dataset %s (%d patients)",
        version.version,
        version.patients,
        extra={"duration_ms": round((time.perf_counter() - started) * 1000)},
    )
    return IngestOutcome(version, True, report)


def _as_of(tables: dict[str, pd.DataFrame]) -> date:
    """The dataset's own reference day: its latest symptom report (keeps ingest repeatable)."""
    stamps = tables["symptom_observations"]["recorded_at"]
    return stamps.max().date()
