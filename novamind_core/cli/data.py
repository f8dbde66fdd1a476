"""``novamind data``: synthesize, validate, ingest and inspect patient datasets."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.table import Table

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.datasets import ValidationReport
from novamind_core.domain.errors import ConfigurationError, ValidationError
from novamind_core.infrastructure import composition

app = typer.Typer(
    help="Synthesize, validate, ingest and inspect patient datasets.", no_args_is_help=True
)


@app.command()
@handles_errors
def keygen(
    env_file: Path = typer.Option(
        None, help="Append the settings this file does not set yet (data keys, public keys)."
    ),
    secrets_dir: Path = typer.Option(
        Path(".secrets"),
        help="Where the private signing keys go (token issuer, reviewer), never the env file.",
    ),
) -> None:
    """Create development keys.

    Without --env-file: print a random 32-byte store key. With it: the store key, the
    audit key and a service API key into the env file that pipelines and servers read;
    the token and approval signing keys (Ed25519) as files in --secrets-dir, readable by
    their owner only — only their public halves go into the env file."""
    import base64
    import os

    from novamind_core.infrastructure.security.signing_keys import write_private_key

    def random_key() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).decode()

    if env_file is None:
        console.print(random_key())
        return
    present = set()
    if env_file.exists():
        present = {line.split("=", 1)[0] for line in env_file.read_text().splitlines()}
    token_pem, approval_pem = (
        secrets_dir / "token-signing.pem",
        secrets_dir / "approval-signing.pem",
    )
    wanted = {
        "NOVAMIND_ENCRYPTION_KEY": random_key,
        "NOVAMIND_AUDIT_KEY": random_key,
        "NOVAMIND_API_KEY": lambda: base64.urlsafe_b64encode(os.urandom(36)).decode(),
        "NOVAMIND_JWT_PUBLIC_KEY": lambda: write_private_key(token_pem),
        "NOVAMIND_APPROVAL_PUBLIC_KEY": lambda: write_private_key(approval_pem),
    }
    missing = {name: make() for name, make in wanted.items() if name not in present}
    if missing:
        with env_file.open("a", encoding="utf-8") as handle:
            for name, value in missing.items():
                handle.write(f"{name}={value}\n")
        env_file.chmod(0o600)
        console.print(
            f"wrote {', '.join(missing)} to {env_file} (development keys: keep them secret)",
            soft_wrap=True,
        )
    else:
        console.print(
            f"{env_file} already sets {', '.join(wanted)}; left unchanged", soft_wrap=True
        )
    for pem, setting, where in (
        (token_pem, "NOVAMIND_JWT_SIGNING_KEY_FILE", "tokens are minted"),
        (approval_pem, "NOVAMIND_APPROVAL_SIGNING_KEY_FILE", "approvals are signed"),
    ):
        if pem.exists():
            console.print(f"private key {pem}: set {setting} to it only where {where}")


@app.command()
@handles_errors
def synth(
    out: Path = typer.Option(..., help="Directory to write the raw tables into."),
    patients: int = typer.Option(200, min=1, help="Number of patients."),
    days: int = typer.Option(180, min=28, help="Days of follow-up per patient."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same data."),
    end_date: datetime = typer.Option(
        "2025-12-31", formats=["%Y-%m-%d"], help="Last day of follow-up."
    ),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
) -> None:
    """Generate a synthetic cohort of raw source-system tables with planted ground truth."""
    from novamind_core.infrastructure.raw_tables import FORMATS, write_tables
    from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

    if fmt not in FORMATS:
        raise ValidationError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if end_date.date() > date.today():
        raise ValidationError("--end-date lies in the future; observations cannot")
    started = time.perf_counter()
    config = CohortConfig(patients=patients, days=days, seed=seed, end_date=end_date.date())
    with console.status(f"simulating {patients} patients x {days} days"):
        cohort = generate(config)
    with console.status(f"writing {fmt} tables to {out}"):
        write_tables(cohort.tables, out, fmt)
        (out / "ground_truth.json").write_text(json.dumps(cohort.ground_truth, indent=2))
    composition.audit_trail().record(
        "write", source_label(out), purpose="synthesize", patients=patients
    )
    table = Table("table", "rows", "columns", title=f"synthetic cohort in {out}")
    for name, frame in cohort.tables.items():
        table.add_row(name, f"{len(frame):,}", str(frame.shape[1]))
    console.print(table)
    console.print(
        f"ground truth: {out / 'ground_truth.json'}  ({time.perf_counter() - started:.1f} s)"
    )


def _validate(directory: Path, report_json: Path | None):
    from novamind_core.application.ingest_dataset import validate_dataset
    from novamind_core.infrastructure.raw_tables import DirectoryDataSource
    from novamind_core.infrastructure.validation.feature_specs import load_specs
    from novamind_core.infrastructure.validation.gx_validator import GreatExpectationsValidator

    specs = load_specs()
    with console.status(f"validating {directory} against feature_specs/"):
        validated = validate_dataset(
            DirectoryDataSource(directory, specs),
            GreatExpectationsValidator(specs),
            composition.audit_trail(),
            source_label=source_label(directory),
        )
    path = report_json or _default_report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_report_json(validated.report, validated.details), indent=2, default=str)
    )
    _print_report(validated.report)
    console.print(f"full result: {path}")
    return validated


def source_label(directory: Path) -> str:
    """How the audit trail names a raw dataset: its directory, never its contents."""
    return f"raw-dataset:{directory.resolve()}"


def _default_report_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return composition.settings().data_dir / "reports" / f"validation-{stamp}.json"


def _report_json(report: ValidationReport, details: dict) -> dict:
    return {
        "success": report.success,
        "tables_checked": list(report.tables_checked),
        "expectations_evaluated": report.expectations_evaluated,
        "row_counts": report.row_counts,
        "failures": [vars_of(f) for f in report.failures],
        "great_expectations": details,
    }


def vars_of(obj) -> dict:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _print_report(report: ValidationReport) -> None:
    if report.success:
        console.print(
            f"[green]valid[/]: {len(report.tables_checked)} tables, "
            f"{report.expectations_evaluated} expectations met, "
            + ", ".join(f"{t} {n:,} rows" for t, n in report.row_counts.items())
        )
        return
    table = Table(
        "table",
        "column",
        "expectation",
        "failing",
        "examples",
        "detail",
        title="[red]data contract violations[/]",
        show_lines=False,
    )
    for f in report.failures:
        table.add_row(
            f.table,
            f.column or "-",
            f.expectation,
            "-" if f.failing_count is None else f"{f.failing_count:,}",
            "(withheld: identifier)"
            if f.examples is None and f.failing_count
            else ", ".join(f.examples or ()),
            f.detail,
        )
    console.print(table)
    console.print(f"[red]invalid[/]: {len(report.failures)} failed expectation(s)")


@app.command()
@handles_errors
def validate(
    directory: Path = typer.Argument(..., help="Directory of raw tables (Parquet or CSV)."),
    report_json: Path = typer.Option(None, help="Where to write the full JSON result."),
) -> None:
    """Check every raw table against its data contract; exit 0 when valid, 1 when not."""
    validated = _validate(directory, report_json)
    if not validated.report.success:
        raise typer.Exit(1)


@app.command()
@handles_errors
def ingest(
    directory: Path = typer.Argument(..., help="Directory of raw tables (Parquet or CSV)."),
    report_json: Path = typer.Option(None, help="Where to write the validation result."),
) -> None:
    """Validate, pseudonymize and store a dataset encrypted, as a new version."""
    from novamind_core.application.ingest_dataset import DatasetRejectedError, ingest_dataset
    from novamind_core.infrastructure.observability.logging import guard
    from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer

    settings = composition.settings()
    key = settings.require_encryption_key()
    store = composition.dataset_store()
    validated = _validate(directory, report_json)
    patients = validated.tables.get("patients")
    if patients is not None:
        for column in ("patient_id", "name"):
            if column in patients:
                guard.register(patients[column].dropna().astype(str))
    try:
        with console.status("pseudonymizing and encrypting"):
            outcome = ingest_dataset(
                validated,
                HmacPseudonymizer(key),
                store,
                composition.audit_trail(),
                source_label=source_label(directory),
            )
    except DatasetRejectedError as exc:
        raise typer.Exit(1) from exc
    if outcome.created:
        console.print(
            f"[green]stored[/] dataset {outcome.version.version} "
            f"(fingerprint {outcome.version.fingerprint[:12]})"
        )
        _announce_dataset(settings, store, outcome.version.version)
    else:
        console.print(
            f"unchanged: identical content is already stored as {outcome.version.version}"
        )


def _announce_dataset(settings, store, version: str) -> None:
    """A symptom update per patient of the new version, when an event bus is configured
    (the twin drops those patients' cached answers)."""
    if not settings.kafka_bootstrap:
        return
    from novamind_core.infrastructure.events import announce

    patients = store.read(version, "patients")["patient_key"].tolist()
    sent = announce.dataset_stored(settings, version, patients)
    console.print(f"announced {sent} patient update(s) on the event bus")


@app.command()
@handles_errors
def versions() -> None:
    """List the dataset versions in the patient store."""
    rows = composition.dataset_store().versions()
    if not rows:
        raise ConfigurationError(
            "the patient store holds no dataset yet: run `novamind data ingest`"
        )
    table = Table(
        "version", "created (UTC)", "patients", "observations", "biometrics", "fingerprint"
    )
    for v in rows:
        table.add_row(
            v.version,
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(v.patients),
            f"{v.row_counts.get('symptom_observations', 0):,}",
            f"{v.row_counts.get('biometrics', 0):,}",
            v.fingerprint[:12],
        )
    console.print(table)


@app.command()
@handles_errors
def summary(version: str = typer.Option("latest", help="Dataset version, or 'latest'.")) -> None:
    """Decrypt a stored dataset and summarize it (an audited read)."""
    from novamind_core.application.summarize_dataset import summarize

    store = composition.dataset_store()
    manifest = store.manifest(version)
    result = summarize(store, manifest["version"], composition.audit_trail())
    table = Table("measure", "value", title=f"dataset {manifest['version']}")
    for name, value in result.items():
        table.add_row(name, str(value))
    console.print(table)


@app.command()
@handles_errors
def patients(
    version: str = typer.Option("latest", help="Dataset version, or 'latest'."),
    having: str = typer.Option(
        None, help="Only patients with rows in this table (e.g. treatment_history)."
    ),
    limit: int = typer.Option(0, min=0, help="At most this many (0: all)."),
) -> None:
    """Print the pseudonyms of a stored dataset's patients, one per line, sorted (an
    audited read): what `correlate --patient`, `pgx rank --patient` and a request by
    pseudonym take. Raw identifiers never leave the store."""
    store = composition.dataset_store()
    manifest = store.manifest(version)
    table = having or "patients"
    if table not in manifest.get("tables", {table: None}):
        raise ValidationError(
            f"--having {table!r}: dataset {manifest['version']} has no such table"
        )
    keys = sorted(store.read(manifest["version"], table)["patient_key"].unique().tolist())
    composition.audit_trail().record(
        "read", f"{manifest['version']}/{table}", purpose="list pseudonyms", rows=len(keys)
    )
    for key in keys[: limit or None]:
        print(key)
