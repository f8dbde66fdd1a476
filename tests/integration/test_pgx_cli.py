"""``novamind pgx`` through the real command: output, exit codes, a stored patient."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer


def pgx(*args):
    return CliRunner().invoke(app, ["pgx", *args])


def test_recommend_json_has_the_promised_keys_and_cpic_names(env):
    result = pgx("recommend", "-g", "CYP2D6=*4/*10", "-g", "CYP2C19=*1/*17", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["drug"]: r for r in json.loads(result.output)}
    assert len(rows) == 21
    for row in rows.values():
        assert {
            "drug",
            "action",
            "dose_adjustment_percent",
            "phenotypes",
            "activity_scores",
            "recommendation",
            "strength",
            "source",
        } <= row.keys()
    assert rows["nortriptyline"]["phenotypes"] == {"CYP2D6": "Intermediate Metabolizer"}
    assert rows["nortriptyline"]["activity_scores"] == {"CYP2D6": 0.25}
    assert rows["nortriptyline"]["dose_adjustment_percent"] == -25
    assert rows["amitriptyline"]["phenotypes"]["CYP2C19"] == "Rapid Metabolizer"
    assert rows["amitriptyline"]["action"] == "avoid"
    assert rows["bupropion"]["action"] == "no_guidance"


def test_terminal_view_sorts_no_concern_first_and_flags_every_avoid(env):
    result = pgx("recommend", "-g", "CYP2D6=*4/*4", "-g", "CYP2C19=*1/*1", "--condition", "MDD")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("sertraline") < out.index("nortriptyline")  # standard before avoid
    # venlafaxine (CYP2D6 PM) and the five TCAs labeled for depression
    assert out.count("⚠ AVOID") == 6
    flagged = out[out.index("avoid (choose an alternative):") :]
    for drug in ("venlafaxine", "amitriptyline", "nortriptyline", "imipramine", "desipramine"):
        assert drug in flagged
    assert "never replaces" in out


def test_drug_filter_and_phenotype_command(env):
    result = pgx("recommend", "-g", "CYP2C19=*2/*2", "--drug", "citalopram", "--json")
    (row,) = json.loads(result.output)
    assert row["action"] == "avoid" and row["dose_adjustment_percent"] == -50
    shown = pgx("phenotype", "-g", "CYP2D6=*1/*2xN", "-g", "CYP2C19=*2/*17", "--json")
    assert shown.exit_code == 0, shown.output
    assert [(r["gene"], r["phenotype"], r["activity_score"]) for r in json.loads(shown.output)] == [
        ("CYP2D6", "Ultrarapid Metabolizer", "≥3.0"),
        ("CYP2C19", "Intermediate Metabolizer", None),
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["recommend", "-g", "CYP2D7=*1/*1"], 1, "unknown gene 'CYP2D7'"),
        (["recommend", "-g", "CYP2D6=4/4"], 1, "malformed CYP2D6 star allele '4'"),
        (["recommend", "-g", "CYP2D6="], 1, "malformed CYP2D6 diplotype ''"),
        (["recommend", "-g", "CYP2D6=*1/*1", "--drug", "aspirin"], 8, "not in the medication"),
        (["recommend", "-g", "CYP2D6=*1/*1", "--condition", "flu"], 1, "unknown condition"),
        (["recommend"], 1, "no genotype"),
        (["phenotype", "--patient", "MRN0000042"], 1, "never a raw identifier"),
    ],
)
def test_bad_input_is_a_clear_message_and_exit_code_never_a_traceback(env, args, code, message):
    result = pgx(*args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "MRN0000042" not in result.output


def test_unknown_allele_is_indeterminate_not_an_error(env):
    result = pgx("recommend", "-g", "CYP2D6=*1/*999", "--drug", "paroxetine", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["action"] == "indeterminate" and row["phenotypes"]["CYP2D6"] == "Indeterminate"


def test_stored_patient_by_pseudonym_is_read_from_the_encrypted_store_and_audited(
    raw_dir, env, small_cohort
):
    assert CliRunner().invoke(app, ["data", "ingest", str(raw_dir)]).exit_code == 0
    genotypes = small_cohort.tables["genotypes"]
    first = genotypes.iloc[0]
    raw_id = first["patient_id"]
    key = HmacPseudonymizer(get_settings().require_encryption_key()).pseudonym(raw_id)
    result = pgx("recommend", "--patient", key, "--drug", "nortriptyline", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    expected = pgx(
        "recommend",
        "-g",
        f"CYP2D6={first['cyp2d6_allele1']}/{first['cyp2d6_allele2']}",
        "--drug",
        "nortriptyline",
        "--json",
    )
    assert row == json.loads(expected.output)[0]
    shown = pgx("phenotype", "--patient", key)
    assert shown.exit_code == 0 and key in shown.output and raw_id not in shown.output
    audit = [json.loads(line) for line in (env / "audit" / "audit.jsonl").read_text().splitlines()]
    reads = [e for e in audit if e["details"].get("purpose") == "pgx guidance"]
    assert len(reads) == 2 and all(e["details"]["patient"] == key for e in reads)
    assert raw_id not in (env / "audit" / "audit.jsonl").read_text()
    missing = pgx("recommend", "--patient", "p_" + "0" * 24)
    assert missing.exit_code == 8 and "no stored genotype" in missing.output
