"""Genotypes drawn from published allele frequencies; phenotypes by CPIC rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from novamind_core.domain.pharmacogenomics import Diplotype, Gene, Phenotype, StarAllele
from novamind_core.infrastructure.synthetic.reference_data import allele_frequencies

GENES = (Gene.CYP2D6, Gene.CYP2C19)


def draw_genotypes(rng: np.random.Generator, patient_ids: pd.Series) -> pd.DataFrame:
    """The ``genotypes`` table: two alleles per gene, one row per patient."""
    table = {"patient_id": patient_ids.to_numpy()}
    for gene in GENES:
        freqs = allele_frequencies(gene.value)
        alleles = np.array(list(freqs))
        probs = np.array(list(freqs.values()))
        prefix = gene.value.lower()
        table[f"{prefix}_allele1"] = rng.choice(alleles, size=len(patient_ids), p=probs)
        table[f"{prefix}_allele2"] = rng.choice(alleles, size=len(patient_ids), p=probs)
    return pd.DataFrame(table)


def phenotypes(genotypes: pd.DataFrame, gene: Gene) -> np.ndarray:
    """Phenotype code (PM/IM/NM/RM/UM) per row of a genotypes table."""
    prefix = gene.value.lower()
    cache: dict[tuple[str, str], Phenotype] = {}
    out = []
    for a, b in zip(genotypes[f"{prefix}_allele1"], genotypes[f"{prefix}_allele2"], strict=True):
        if (a, b) not in cache:
            diplotype = Diplotype(StarAllele.parse(gene, a), StarAllele.parse(gene, b))
            cache[(a, b)] = diplotype.phenotype()
        out.append(cache[(a, b)].value)
    return np.array(out)
