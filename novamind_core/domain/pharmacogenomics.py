"""Genotypes, metabolizer phenotypes and medications.

Allele function and genotype → phenotype translation follow the CPIC standardized
terms and allele-function tables:

* CYP2D6 uses the activity-score method (Caudle et al., Clin Transl Sci 2020,
  "Standardizing CYP2D6 genotype to phenotype translation: consensus recommendations
  from CPIC and DPWG"): AS 0 → poor, 0 < AS < 1.25 → intermediate,
  1.25 ≤ AS ≤ 2.25 → normal, AS > 2.25 → ultrarapid. A duplicated allele ``*2x2``
  counts its activity value times its copy number.
* CYP2C19 uses allele function (CPIC guideline for CYP2C19 and SSRIs, Bousman et al.,
  Clin Pharmacol Ther 2023): no-function *2/*3, increased-function *17.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from novamind_core.domain.patients import PatientPseudonym


class Gene(StrEnum):
    CYP2D6 = "CYP2D6"
    CYP2C19 = "CYP2C19"


class Phenotype(StrEnum):
    """Metabolizer phenotype (CPIC standardized terms)."""

    POOR = "PM"
    INTERMEDIATE = "IM"
    NORMAL = "NM"
    RAPID = "RM"
    ULTRARAPID = "UM"


# Activity value of one copy of each allele the platform recognizes.
CYP2D6_ACTIVITY: dict[str, float] = {
    "*1": 1.0,
    "*2": 1.0,
    "*35": 1.0,
    "*9": 0.5,
    "*17": 0.5,
    "*29": 0.5,
    "*41": 0.5,
    "*10": 0.25,
    "*3": 0.0,
    "*4": 0.0,
    "*5": 0.0,
    "*6": 0.0,
    "*36": 0.0,
}

# Function of each CYP2C19 allele: "normal", "no", "increased".
CYP2C19_FUNCTION: dict[str, str] = {
    "*1": "normal",
    "*2": "no",
    "*3": "no",
    "*17": "increased",
}

_ALLELE = re.compile(r"^(\*\d+)(?:x(\d))?$")


@dataclass(frozen=True, slots=True)
class StarAllele:
    """A star allele with its copy number (``*2x2`` = two copies of *2)."""

    gene: Gene
    name: str
    copies: int = 1

    @classmethod
    def parse(cls, gene: Gene, text: str) -> StarAllele:
        match = _ALLELE.match(text.strip())
        known = CYP2D6_ACTIVITY if gene is Gene.CYP2D6 else CYP2C19_FUNCTION
        if not match or match.group(1) not in known:
            raise ValueError(f"unknown {gene.value} star allele {text!r}")
        copies = int(match.group(2) or 1)
        if copies < 1 or (copies > 1 and gene is not Gene.CYP2D6):
            raise ValueError(f"copy number not supported for {gene.value} allele {text!r}")
        return cls(gene, match.group(1), copies)

    def __str__(self) -> str:
        return self.name if self.copies == 1 else f"{self.name}x{self.copies}"


@dataclass(frozen=True, slots=True)
class Diplotype:
    """The two alleles of one gene."""

    first: StarAllele
    second: StarAllele

    @property
    def gene(self) -> Gene:
        return self.first.gene

    def activity_score(self) -> float:
        """CYP2D6 activity score (sum of allele activity × copies)."""
        if self.gene is not Gene.CYP2D6:
            raise ValueError("activity scores are defined for CYP2D6 only")
        return sum(CYP2D6_ACTIVITY[a.name] * a.copies for a in (self.first, self.second))

    def phenotype(self) -> Phenotype:
        if self.gene is Gene.CYP2D6:
            return _cyp2d6_phenotype(self.activity_score())
        return _cyp2c19_phenotype(
            CYP2C19_FUNCTION[self.first.name], CYP2C19_FUNCTION[self.second.name]
        )

    def __str__(self) -> str:
        return f"{self.first}/{self.second}"


def _cyp2d6_phenotype(score: float) -> Phenotype:
    if score == 0:
        return Phenotype.POOR
    if score < 1.25:
        return Phenotype.INTERMEDIATE
    if score <= 2.25:
        return Phenotype.NORMAL
    return Phenotype.ULTRARAPID


def _cyp2c19_phenotype(a: str, b: str) -> Phenotype:
    functions = sorted((a, b))
    table = {
        ("normal", "normal"): Phenotype.NORMAL,
        ("increased", "normal"): Phenotype.RAPID,
        ("increased", "increased"): Phenotype.ULTRARAPID,
        ("no", "normal"): Phenotype.INTERMEDIATE,
        ("increased", "no"): Phenotype.INTERMEDIATE,
        ("no", "no"): Phenotype.POOR,
    }
    return table[(functions[0], functions[1])]


@dataclass(frozen=True, slots=True)
class Genotype:
    """A patient's pharmacogenes."""

    patient: PatientPseudonym
    diplotypes: dict[Gene, Diplotype]

    def phenotype(self, gene: Gene) -> Phenotype:
        return self.diplotypes[gene].phenotype()


class DrugClass(StrEnum):
    SSRI = "SSRI"
    SNRI = "SNRI"
    TCA = "TCA"
    ATYPICAL_ANTIDEPRESSANT = "atypical_antidepressant"
    ATYPICAL_ANTIPSYCHOTIC = "atypical_antipsychotic"


@dataclass(frozen=True, slots=True)
class Medication:
    """A drug of the catalog, with its structure and main metabolic pathways."""

    name: str
    drug_class: DrugClass
    smiles: str
    metabolized_by: tuple[Gene, ...]
