"""Ingest through the real adapters: what lands on disk, and what it reads back as."""

from __future__ import annotations

import base64
import json
import struct

import pandas as pd
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer


def ingest(raw_dir):
    return CliRunner().invoke(app, ["data", "ingest", str(raw_dir)])


def store_bytes(data_dir) -> bytes:
    return b"".join(p.read_bytes() for p in (data_dir / "store").rglob("*") if p.is_file())


def test_bytes_on_disk_hold_no_identifier_name_or_observation(raw_dir, env, small_cohort):
    result = ingest(raw_dir)
    assert result.exit_code == 0, result.output
    everything = store_bytes(env)  # manifests included
    patients = small_cohort.tables["patients"]
    for value in [*patients["patient_id"], *patients["name"]]:
        assert value.encode() not in everything
    encrypted = b"".join(p.read_bytes() for p in (env / "store").rglob("*.enc"))
    for word in (b"PAR1", b"phq9", b"heart_rate_bpm", b"patient_key", b"CYP2D6"):
        assert word not in encrypted  # no Parquet, no column names, no schema in clear
    values = small_cohort.tables["biometrics"]["heart_rate_bpm"].dropna().iloc[:50]
    for value in values:
        assert struct.pack("<d", value) not in encrypted
        assert repr(value).encode() not in encrypted


def test_stored_tables_are_pseudonymized_and_minimized(raw_dir, env, small_cohort):
    assert ingest(raw_dir).exit_code == 0
    settings = get_settings()
    store = EncryptedDatasetStore(settings.store_dir, settings.require_encryption_key())
    (version,) = store.versions()
    patients = store.read(version.version, "patients")
    assert list(patients.columns) == ["patient_key", "age_band", "sex", "primary_diagnosis"]
    pseudo = HmacPseudonymizer(settings.require_encryption_key())
    expected = [pseudo.pseudonym(i) for i in small_cohort.tables["patients"]["patient_id"]]
    assert patients["patient_key"].tolist() == expected
    obs = store.read(version.version, "symptom_observations")
    raw_obs = small_cohort.tables["symptom_observations"]
    pd.testing.assert_series_equal(obs["phq9"], raw_obs["phq9"])
    assert "patient_id" not in obs and obs["patient_key"].isin(expected).all()
    manifest = json.loads((settings.store_dir / "versions" / "v0001" / "manifest.json").read_text())
    assert manifest["cipher"] == "AES-256-GCM"
    assert manifest["tables"]["patients"]["rows"] == len(small_cohort.tables["patients"])


def test_ingest_is_repeatable_and_audited(raw_dir, env):
    assert ingest(raw_dir).exit_code == 0
    second = ingest(raw_dir)
    assert second.exit_code == 0 and "already stored as v0001" in second.output
    assert [p.name for p in (env / "store" / "versions").iterdir()] == ["v0001"]
    verify = CliRunner().invoke(app, ["audit", "verify"])
    assert verify.exit_code == 0 and "intact" in verify.output
    actions = [
        json.loads(line)["action"]
        for line in (env / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    assert actions == ["read", "write", "read", "ingest_unchanged"]  # read = validation


def test_wrong_or_missing_key_is_a_clear_error(raw_dir, env, monkeypatch):
    assert ingest(raw_dir).exit_code == 0
    monkeypatch.setenv("NOVAMIND_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"w" * 32).decode())
    get_settings.cache_clear()
    wrong = CliRunner().invoke(app, ["data", "summary"])
    assert wrong.exit_code == 6, wrong.output
    assert "encrypted with another key" in wrong.output
    monkeypatch.delenv("NOVAMIND_ENCRYPTION_KEY")
    get_settings.cache_clear()
    missing = CliRunner().invoke(app, ["data", "summary"])
    assert missing.exit_code == 2 and "NOVAMIND_ENCRYPTION_KEY is not set" in missing.output


def test_summary_reads_the_store(raw_dir, env):
    assert ingest(raw_dir).exit_code == 0
    result = CliRunner().invoke(app, ["data", "summary"])
    assert result.exit_code == 0, result.output
    assert "patients" in result.output and "12" in result.output
    assert "CYP2D6 phenotypes" in result.output


def test_unknown_directory_is_a_clear_error(env, tmp_path):
    result = CliRunner().invoke(app, ["data", "validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 3
    assert "dataset directory not found" in result.output


def test_csv_and_parquet_of_the_same_cohort_store_the_same_content(env, tmp_path, small_cohort):
    from novamind_core.infrastructure.raw_tables import write_tables

    write_tables(small_cohort.tables, tmp_path / "as_csv", "csv")
    write_tables(small_cohort.tables, tmp_path / "as_parquet", "parquet")
    first = ingest(tmp_path / "as_csv")
    assert first.exit_code == 0, first.output
    second = ingest(tmp_path / "as_parquet")
    assert second.exit_code == 0, second.output
    assert "already stored as v0001" in second.output


def test_a_killed_ingest_leaves_nothing_that_lasts(raw_dir, env):
    """A writer killed mid-version leaves a hidden folder of encrypted tables and no
    manifest; the next write removes it (its process is gone)."""
    import socket
    import subprocess
    import sys

    settings = get_settings()
    versions = settings.store_dir / "versions"
    versions.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    abandoned = versions / f".staging-v0001-{socket.gethostname()}-{dead}-x1y2z3"
    abandoned.mkdir()
    (abandoned / "patients.parquet.enc").write_bytes(b"half written")
    assert ingest(raw_dir).exit_code == 0
    assert not abandoned.exists()
    assert [p.name for p in versions.iterdir()] == ["v0001"]


def test_a_version_whose_files_are_missing_is_never_offered(raw_dir, env):
    assert ingest(raw_dir).exit_code == 0
    settings = get_settings()
    store = EncryptedDatasetStore(settings.store_dir, settings.require_encryption_key())
    (settings.store_dir / "versions" / "v0001" / "biometrics.parquet.enc").unlink()
    assert store.versions() == []
    listed = CliRunner().invoke(app, ["data", "versions"])
    assert listed.exit_code == 2 and "holds no dataset yet" in listed.output
