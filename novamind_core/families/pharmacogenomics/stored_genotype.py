"""A stored patient's CYP2D6 and CYP2C19 diplotypes, read by pseudonym from the encrypted
store's latest dataset version; every read is audited (the pseudonym, never a raw id)."""

from __future__ import annotations

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.domain.patients import PatientPseudonym
from novamind_core.domain.pharmacogenomics import Diplotype, Gene
from novamind_core.families.pharmacogenomics.guidance import parse_diplotype

TABLE = "genotypes"
KEY = "patient_key"


def stored_genotype(store, audit, pseudonym: str) -> tuple[str, dict[Gene, Diplotype]]:
    """(dataset version, the patient's diplotypes). A value that is not a pseudonym is
    refused without being echoed (it may be a raw identifier)."""
    try:
        key = PatientPseudonym(pseudonym.strip()).value
    except ValueError:
        raise ValidationError(
            "--patient takes a pseudonym ('p_' + 24 hex digits), never a raw identifier"
        ) from None
    version = store.latest().version
    table = store.read(version, TABLE)
    rows = table[table[KEY] == key]
    audit.record(
        "read", f"{version}/{TABLE}", purpose="pgx guidance", patient=key, found=not rows.empty
    )
    if rows.empty:
        raise NotFoundError(f"no stored genotype for patient {key} in dataset {version}")
    row = rows.iloc[0]
    return version, {
        gene: parse_diplotype(
            gene,
            f"{row[f'{gene.value.lower()}_allele1']}/{row[f'{gene.value.lower()}_allele2']}",
        )
        for gene in Gene
        if f"{gene.value.lower()}_allele1" in table
    }
