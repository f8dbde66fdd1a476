"""Run the main job as a user would and scan everything it printed or wrote in clear."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from tests.conftest import AUDIT_KEY, TEST_KEY


def run(args, cwd, env):
    return subprocess.run(
        [sys.executable, "-m", "novamind_core.cli", "--log-level", "DEBUG", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_raw_identifier_in_logs_reports_or_audit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
    env |= {
        "NOVAMIND_ENCRYPTION_KEY": TEST_KEY,
        "NOVAMIND_AUDIT_KEY": AUDIT_KEY,
        "NOVAMIND_DATA_DIR": str(tmp_path / "data"),
    }
    raw = tmp_path / "raw"
    outputs = []
    for args in (
        ["data", "synth", "--out", str(raw), "--patients", "25", "--days", "35"],
        ["data", "validate", str(raw)],
        ["data", "ingest", str(raw)],
        ["data", "summary"],
        ["audit", "verify"],
    ):
        done = run(args, tmp_path, env)
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]
    # a rejected ingest must not leak either: break a reference and try again
    bio = pd.read_parquet(raw / "biometrics.parquet")
    bio.loc[0, "patient_id"] = "MRN0000042"
    bio.to_parquet(raw / "biometrics.parquet", index=False)
    rejected = run(["data", "ingest", str(raw)], tmp_path, env)
    assert rejected.returncode == 1
    outputs += [rejected.stdout, rejected.stderr]

    clear_files = [
        p for p in (tmp_path / "data").rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl"}
    ]
    assert any("reports" in str(p) for p in clear_files)
    text = "\n".join(outputs + [p.read_text() for p in clear_files])
    assert '"level": "DEBUG"' in text or '"level": "INFO"' in text  # logs were captured
    patients = pd.read_parquet(raw / "patients.parquet")
    for identifier in [*patients["patient_id"], *patients["name"], "MRN0000042"]:
        assert identifier not in text
