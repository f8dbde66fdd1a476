"""Check the stored tables a pipeline reads: integrity (decryption) and data contracts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from novamind_core.domain.errors import ValidationError


def validate_stored(
    dataset_version: str, tables: Sequence[str], report_path: Path, purpose: str
) -> dict:
    """Read ``tables`` of a stored version (audited) and check each against its contract
    in ``feature_specs/``; write the result to ``report_path``. Raises ValidationError
    naming the first failures; returns the version, its fingerprint, the number of
    expectations met and the rows per table."""
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.kfp.artifacts import write_json
    from novamind_core.infrastructure.validation.feature_specs import load_specs, stored_spec
    from novamind_core.infrastructure.validation.gx_validator import GreatExpectationsValidator

    store = composition.dataset_store()
    manifest = store.manifest(dataset_version)
    version = manifest["version"]
    frames = {name: store.read(version, name) for name in tables}
    composition.audit_trail().record("read", version, purpose=f"{purpose}: validate")
    specs = {name: stored_spec(spec) for name, spec in load_specs().items() if name in tables}
    report, _ = GreatExpectationsValidator(specs).validate(frames)
    failures = [
        {
            "table": f.table,
            "column": f.column,
            "expectation": f.expectation,
            "failing": f.failing_count,
            "detail": f.detail,
        }
        for f in report.failures
    ]
    write_json(
        report_path,
        {"version": version, "success": report.success, "failures": failures},
        indent=2,
    )
    if not report.success:
        raise ValidationError(
            f"dataset {version} failed validation ({len(failures)} expectations): "
            + "; ".join(f"{f['table']}.{f['column']}: {f['expectation']}" for f in failures[:5])
        )
    return {
        "version": version,
        "fingerprint": manifest["fingerprint"],
        "expectations": report.expectations_evaluated,
        "rows": report.row_counts,
    }
