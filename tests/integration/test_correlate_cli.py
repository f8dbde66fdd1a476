"""``novamind correlate`` through the real command on a real encrypted store."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.families.biometric.analysis import COLUMNS
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer


def correlate(*args):
    return CliRunner().invoke(app, ["correlate", *args])


def test_cohort_table_file_and_audit(raw_dir, env, small_cohort, tmp_path):
    assert CliRunner().invoke(app, ["data", "ingest", str(raw_dir)]).exit_code == 0
    out = tmp_path / "tests.csv"
    result = correlate("--max-lag", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "significant relations" in result.output and "directed relations" in result.output
    frame = pd.read_csv(out)
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 4 * 3 * 4  # every pooled test of 12 patients × 40 days
    assert frame["q_value"].between(0, 1).all() and not frame.isna().any().any()
    assert (frame["ci_low"] <= frame["coefficient"]).all()
    assert (frame["n_effective"] <= frame["n_pairs"]).all()
    audit = (env / "audit" / "audit.jsonl").read_text().splitlines()
    reads = [json.loads(e) for e in audit if "correlate biometrics" in e]
    assert len(reads) == 1


def test_one_patient_by_pseudonym_as_json(raw_dir, env, small_cohort, tmp_path):
    assert CliRunner().invoke(app, ["data", "ingest", str(raw_dir)]).exit_code == 0
    raw_id = small_cohort.tables["patients"]["patient_id"].iloc[0]
    key = HmacPseudonymizer(get_settings().require_encryption_key()).pseudonym(raw_id)
    out = tmp_path / "one.json"
    result = correlate("--patient", key, "--method", "spearman", "--out", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["patient"] == key and document["settings"]["method"] == "spearman"
    assert {"tests", "causal_edges", "exclusions", "temporal_patterns"} <= set(document)
    for test in document["tests"]:
        assert set(COLUMNS) <= set(test)
    text = (env / "audit" / "audit.jsonl").read_text()
    assert key in text and raw_id not in text and raw_id not in result.output


def test_bad_input_is_named_with_an_exit_code_and_no_traceback(raw_dir, env, tmp_path):
    assert CliRunner().invoke(app, ["data", "ingest", str(raw_dir)]).exit_code == 0
    cases = [
        (["--max-lag", "29"], 1, "max-lag must lie in 0..28"),
        (["--method", "kendall"], 1, "pearson, spearman"),
        (["--fdr", "1.5"], 1, "fdr must lie strictly between 0 and 1"),
        (["--patient", "MRN0000042"], 1, "never a raw identifier"),
        (["--patient", "p_" + "0" * 24], 8, "no stored data for that patient"),
        (["--out", str(tmp_path / "x.txt")], 1, "must end in .csv or .json"),
        (["--out", str(tmp_path / "no" / "x.csv")], 1, "does not exist"),
        (["--dataset", "v0099"], 8, "v0099"),
    ]
    for args, code, message in cases:
        result = correlate(*args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert "MRN0000042" not in result.output
    assert not (tmp_path / "x.txt").exists()
