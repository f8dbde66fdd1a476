"""The pharmacogenomics tables of a synthetic cohort as the store holds them (pseudonym-
keyed, age bands instead of birth dates), without the ingest: for model tests and the
benchmark, which need thousands of patients but not the daily streams' validation."""

from __future__ import annotations

import pandas as pd

TABLES = ("patients", "genotypes", "treatment_history", "medications")


def pgx_tables(
    patients: int, days: int = 150, seed: int = 3
) -> tuple[dict[str, pd.DataFrame], dict]:
    """(tables by name, the generator's planted pharmacogenomic effects)."""
    from novamind_core.application.deidentify import age_bands
    from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

    config = CohortConfig(patients=patients, days=days, seed=seed)
    cohort = generate(config)
    tables = {name: cohort.tables[name].copy() for name in TABLES}
    for name in ("patients", "genotypes", "treatment_history"):
        tables[name] = tables[name].rename(columns={"patient_id": "patient_key"})
    people = tables["patients"]
    people["age_band"] = age_bands(people["birth_date"], config.end_date)
    tables["patients"] = people[["patient_key", "age_band", "sex", "primary_diagnosis"]]
    return tables, cohort.ground_truth["pharmacogenomics"]
