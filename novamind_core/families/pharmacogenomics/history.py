"""A stored patient's case (profile, genotype, treatment history), for requests by
pseudonym; every read audited."""

from __future__ import annotations

from novamind_core.families.pharmacogenomics.patient_input import stored_case
from novamind_core.infrastructure.serving.stored_tables import StoredTables

TABLES = ("patients", "genotypes", "treatment_history")


def case_source(store, audit):
    """``case(pseudonym, days)``: the patient's ``PatientCase`` from the latest dataset
    version, or None (``days`` is not used: the whole treatment history counts)."""
    tables = StoredTables(store, TABLES)

    def case(key: str, days: int = 0):
        version, frames = tables.rows(key)
        if frames["patients"].empty:
            return None
        audit.record("read", f"{version}/patient", purpose="serve medication-response", patient=key)
        return stored_case(frames)

    return case
