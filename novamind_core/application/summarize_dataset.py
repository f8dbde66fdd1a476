"""Use case: a readable summary of a stored dataset (an audited read of patient data)."""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd

from novamind_core.domain.pharmacogenomics import Diplotype, Gene, StarAllele
from novamind_core.domain.ports import AuditTrail, PatientDataStore


def phenotype_column(genotypes: pd.DataFrame, gene: Gene) -> pd.Series:
    """CPIC phenotype (PM/IM/NM/RM/UM) per row of a genotypes table."""
    prefix = gene.value.lower()
    pairs = list(zip(genotypes[f"{prefix}_allele1"], genotypes[f"{prefix}_allele2"], strict=True))
    cache = {
        pair: Diplotype(StarAllele.parse(gene, pair[0]), StarAllele.parse(gene, pair[1]))
        .phenotype()
        .value
        for pair in set(pairs)
    }
    return pd.Series([cache[p] for p in pairs], index=genotypes.index)


def _shares(values: pd.Series) -> str:
    counts = Counter(values.dropna())
    total = sum(counts.values()) or 1
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(counts.items()))


def summarize(store: PatientDataStore, version: str, audit: AuditTrail) -> dict[str, object]:
    tables = {
        name: store.read(version, name)
        for name in (
            "patients",
            "symptom_observations",
            "biometrics",
            "genotypes",
            "treatment_history",
        )
    }
    audit.record("read", version, purpose="summary", tables=sorted(tables))
    logging.getLogger(__name__).info("summarized dataset %s", version)
    patients, obs = tables["patients"], tables["symptom_observations"]
    bio, history = tables["biometrics"], tables["treatment_history"]
    per_patient = obs.groupby("patient_key").size()
    assessed = history["response"].dropna()
    return {
        "patients": len(patients),
        "age bands": _shares(patients["age_band"]),
        "diagnoses": _shares(patients["primary_diagnosis"]),
        "follow-up": f"{obs['recorded_at'].min():%Y-%m-%d} to {obs['recorded_at'].max():%Y-%m-%d}",
        "symptom reports": f"{len(obs):,} (median {per_patient.median():.0f} per patient)",
        "PHQ-9 / GAD-7 / mood reports": " / ".join(
            f"{obs[c].notna().sum():,}" for c in ("phq9", "gad7", "mood")
        ),
        "mean PHQ-9": f"{obs['phq9'].mean():.1f}",
        "wearable records": f"{len(bio):,}",
        "CYP2D6 phenotypes": _shares(phenotype_column(tables["genotypes"], Gene.CYP2D6)),
        "CYP2C19 phenotypes": _shares(phenotype_column(tables["genotypes"], Gene.CYP2C19)),
        "treatment trials": f"{len(history):,} ({assessed.mean():.0%} of assessed responded)"
        if len(assessed)
        else f"{len(history):,}",
    }
