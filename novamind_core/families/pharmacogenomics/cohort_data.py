"""The pharmacogenomics tables of a stored dataset version (an audited, decrypted read)."""

from __future__ import annotations

import pandas as pd

from novamind_core.domain.errors import ValidationError

TABLES = ("patients", "genotypes", "treatment_history", "medications")  # validated first


def stored_tables(store, version: str, audit, purpose: str) -> tuple[str, dict[str, pd.DataFrame]]:
    """(the version read, its tables by name); ``version`` may be ``latest``."""
    version = store.manifest(version)["version"]
    frames = {name: store.read(version, name) for name in TABLES}
    audit.record("read", version, purpose=purpose)
    return version, frames


def catalog_of(medications: pd.DataFrame) -> tuple[dict, dict, dict, dict]:
    """(smiles, metabolizing genes, dose range, class) per drug of the medications table."""
    smiles, genes, doses, classes = {}, {}, {}, {}
    for row in medications.itertuples(index=False):
        name = str(row.drug_name)
        if name in smiles:
            raise ValidationError(f"medications: drug {name!r} is listed twice")
        smiles[name] = str(row.smiles)
        text = row.metabolized_by if isinstance(row.metabolized_by, str) else ""
        genes[name] = tuple(g for g in text.split(";") if g)
        doses[name] = (float(row.min_dose_mg), float(row.max_dose_mg))
        classes[name] = str(row.drug_class)
    return smiles, genes, doses, classes
