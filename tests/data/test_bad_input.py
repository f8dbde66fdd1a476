"""Every kind of bad raw input is rejected clearly, with exit code 1, and nothing is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from novamind_core.cli import app


def load(raw, table):
    return pd.read_parquet(raw / f"{table}.parquet")


def save(raw, table, frame):
    frame.to_parquet(raw / f"{table}.parquet", index=False)


def set_value(raw, table, column, value, row=3):
    frame = load(raw, table)
    frame[column] = frame[column].astype(object) if isinstance(value, str) else frame[column]
    frame.loc[frame.index[row], column] = value
    save(raw, table, frame)


def first_row_with(raw, table, column):
    frame = load(raw, table)
    return int(np.flatnonzero(frame[column].notna())[0])


def phq9_35(raw):
    set_value(
        raw,
        "symptom_observations",
        "phq9",
        35.0,
        first_row_with(raw, "symptom_observations", "phq9"),
    )


def negative_steps(raw):
    set_value(raw, "biometrics", "steps", -120.0, first_row_with(raw, "biometrics", "steps"))


def heart_rate(value):
    def mutate(raw):
        set_value(
            raw,
            "biometrics",
            "heart_rate_bpm",
            value,
            first_row_with(raw, "biometrics", "heart_rate_bpm"),
        )

    return mutate


def nan_dose(raw):
    set_value(raw, "treatment_history", "dose_mg", np.nan, 0)


def empty_submission(raw):
    frame = load(raw, "symptom_observations")
    frame.loc[frame.index[5], ["phq9", "gad7", "mood"]] = np.nan
    save(raw, "symptom_observations", frame)


def inf_gad7(raw):
    set_value(
        raw,
        "symptom_observations",
        "gad7",
        np.inf,
        first_row_with(raw, "symptom_observations", "gad7"),
    )


def string_in_numeric_csv(raw):
    frame = load(raw, "biometrics")
    frame["heart_rate_bpm"] = frame["heart_rate_bpm"].astype(object)
    frame.loc[
        frame.index[first_row_with(raw, "biometrics", "heart_rate_bpm")], "heart_rate_bpm"
    ] = "abc"
    (raw / "biometrics.parquet").unlink()
    frame.to_csv(raw / "biometrics.csv", index=False)


def missing_column(raw):
    save(raw, "symptom_observations", load(raw, "symptom_observations").drop(columns=["mood"]))


def duplicated_rows(raw):
    frame = load(raw, "symptom_observations")
    save(raw, "symptom_observations", pd.concat([frame, frame.iloc[[10]]]).sort_index())


def future_timestamp(raw):
    set_value(
        raw, "biometrics", "recorded_at", pd.Timestamp(datetime.now() + timedelta(days=30)), -1
    )


def out_of_order(raw):
    frame = load(raw, "symptom_observations")
    a, b = frame.index[20], frame.index[21]
    frame.loc[[a, b], "recorded_at"] = frame.loc[[b, a], "recorded_at"].to_numpy()
    save(raw, "symptom_observations", frame)


def unknown_patient(raw):
    set_value(raw, "biometrics", "patient_id", "MRN0000001", 7)


def unknown_star_allele(raw):
    set_value(raw, "genotypes", "cyp2d6_allele1", "*99", 2)


def truncated_parquet(raw):
    path = raw / "treatment_history.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_parquet(raw):
    path = raw / "genotypes.parquet"
    data = bytearray(path.read_bytes())
    data[4:200] = b"\x00" * 196
    path.write_bytes(bytes(data))


def empty_table(raw):
    save(raw, "treatment_history", load(raw, "treatment_history").iloc[0:0])


def table_missing(raw):
    (raw / "medications.parquet").unlink()


CASES = [
    # (mutation, table, column, expectation text)
    (phq9_35, "symptom_observations", "phq9", "within the allowed range"),
    (negative_steps, "biometrics", "steps", "within the allowed range"),
    (heart_rate(0.0), "biometrics", "heart_rate_bpm", "within the allowed range"),
    (heart_rate(400.0), "biometrics", "heart_rate_bpm", "within the allowed range"),
    (nan_dose, "treatment_history", "dose_mg", "no missing values"),
    (empty_submission, "symptom_observations", "-", "at least one measurement"),
    (inf_gad7, "symptom_observations", "gad7", "within the allowed range"),
    (string_in_numeric_csv, "biometrics", "heart_rate_bpm", "has the declared type"),
    (missing_column, "symptom_observations", "-", "every declared column is present"),
    (duplicated_rows, "symptom_observations", "patient_id,recorded_at", "unique on the primary"),
    (future_timestamp, "biometrics", "recorded_at", "within the allowed range"),
    (out_of_order, "symptom_observations", "recorded_at", "strictly increase per patient"),
    (unknown_patient, "biometrics", "patient_id", "reference an existing patients.patient_id"),
    (unknown_star_allele, "genotypes", "cyp2d6_allele1", "in the allowed set"),
    (truncated_parquet, "treatment_history", "-", "table_file_readable"),
    (corrupt_parquet, "genotypes", "-", "table_file_readable"),
    (empty_table, "treatment_history", "-", "at least one row"),
    (table_missing, "medications", "-", "table_file_exists"),
]


def test_the_unbroken_cohort_is_valid(raw_dir, env):
    result = CliRunner().invoke(app, ["data", "validate", str(raw_dir)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


@pytest.mark.parametrize(
    ("mutate", "table", "column", "expectation"), CASES, ids=[c[0].__name__ for c in CASES]
)
def test_bad_input_is_rejected_and_nothing_stored(
    raw_dir, env, small_cohort, mutate, table, column, expectation
):
    mutate(raw_dir)
    result = CliRunner().invoke(app, ["data", "ingest", str(raw_dir)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    row = next(
        (line for line in result.output.splitlines() if table in line and expectation in line), None
    )
    assert row is not None, result.output
    assert column in row
    assert "nothing was stored" in result.output or "invalid" in result.output
    versions = env / "store" / "versions"
    assert not versions.exists() or not any(versions.iterdir())
    for identifier in ["MRN0000001", *small_cohort.tables["patients"]["patient_id"]]:
        assert identifier not in result.output
