"""Genotypes, metabolizer phenotypes and medications.

Allele function and genotype → phenotype translation follow CPIC's allele-function and
diplotype tables, kept as data files in ``domain/data/`` (CPIC content is CC0):

* CYP2D6 uses the activity-score method (Caudle et al., Clin Transl Sci 2020,
  "Standardizing CYP2D6 genotype to phenotype translation: consensus recommendations
  from CPIC and DPWG"): AS 0 → poor, 0 < AS < 1.25 → intermediate,
  1.25 ≤ AS ≤ 2.25 → normal, AS > 2.25 → ultrarapid. A duplicated allele ``*2x2``
  counts its activity value times its copy number; ``*2xN`` (copy number not resolved,
  at least two) and ``*1x≥3`` give a range of scores, and a phenotype only when the whole
  range gives one (``*1/*2xN`` is ultrarapid, ``*4/*1xN`` is indeterminate).
* CYP2C19 uses allele function (CPIC guideline for CYP2C19 and serotonin reuptake
  inhibitors, Bousman et al., Clin Pharmacol Ther 2023), including CPIC's "Likely"
  phenotypes for decreased-function alleles.

An allele the tables do not know, an allele of uncertain function, or a copy number CPIC
gives no rule for yields ``Phenotype.INDETERMINATE`` — never a guess. Text that is not a
star-allele call at all (``4/4``, an empty call) is a ``ValueError``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from novamind_core.domain.patients import PatientPseudonym


class Gene(StrEnum):
    CYP2D6 = "CYP2D6"
    CYP2C19 = "CYP2C19"


class Phenotype(StrEnum):
    """Metabolizer phenotype; the value is a short code, ``cpic_name`` CPIC's term."""

    POOR = "PM"
    LIKELY_POOR = "Likely PM"
    INTERMEDIATE = "IM"
    LIKELY_INTERMEDIATE = "Likely IM"
    NORMAL = "NM"
    RAPID = "RM"
    ULTRARAPID = "UM"
    INDETERMINATE = "Indeterminate"

    @property
    def cpic_name(self) -> str:
        return _CPIC_NAMES[self]

    @classmethod
    def from_cpic_name(cls, name: str) -> Phenotype:
        for phenotype, cpic in _CPIC_NAMES.items():
            if cpic == name:
                return phenotype
        raise ValueError(f"not a CPIC metabolizer phenotype: {name!r}")

    @property
    def recommendation_phenotype(self) -> Phenotype:
        """The phenotype whose recommendations apply: CPIC gives a "Likely" phenotype the
        recommendations of the definitive one."""
        return {Phenotype.LIKELY_POOR: Phenotype.POOR}.get(
            self, Phenotype.INTERMEDIATE if self is Phenotype.LIKELY_INTERMEDIATE else self
        )


_CPIC_NAMES = {
    Phenotype.POOR: "Poor Metabolizer",
    Phenotype.LIKELY_POOR: "Likely Poor Metabolizer",
    Phenotype.INTERMEDIATE: "Intermediate Metabolizer",
    Phenotype.LIKELY_INTERMEDIATE: "Likely Intermediate Metabolizer",
    Phenotype.NORMAL: "Normal Metabolizer",
    Phenotype.RAPID: "Rapid Metabolizer",
    Phenotype.ULTRARAPID: "Ultrarapid Metabolizer",
    Phenotype.INDETERMINATE: "Indeterminate",
}


@cache
def allele_table(gene: Gene) -> dict:
    """CPIC allele-function table of one gene: ``data/<gene>_allele_functionality.json``."""
    name = f"{gene.value.lower()}_allele_functionality.json"
    return json.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


def _activity_values() -> dict[str, float | None]:
    return {k: v["activity_value"] for k, v in allele_table(Gene.CYP2D6)["alleles"].items()}


def _functions() -> dict[str, str]:
    return {k: v["function"] for k, v in allele_table(Gene.CYP2C19)["alleles"].items()}


# Activity value of one copy of each CYP2D6 allele CPIC lists (None: uncertain function).
CYP2D6_ACTIVITY: dict[str, float | None] = _activity_values()
# Function of each CYP2C19 allele CPIC lists ("Normal function", "No function", ...).
CYP2C19_FUNCTION: dict[str, str] = _functions()

# *4, *4x2, *2xN (copy number ≥ 2, not resolved), *1x≥3 (three or more copies)
_ALLELE = re.compile(r"^(\*\d{1,3})(?:x(?:(\d{1,2})|(N)|≥(\d{1,2})))?$")


@dataclass(frozen=True, slots=True)
class StarAllele:
    """A star allele with its copy number (``*2x2`` = two copies of *2).

    ``open_ended``: at least ``copies`` copies (``*2xN`` → 2 or more, ``*1x≥3`` → 3 or more).
    """

    gene: Gene
    name: str
    copies: int = 1
    open_ended: bool = False

    @classmethod
    def parse(cls, gene: Gene, text: str, allow_unknown: bool = False) -> StarAllele:
        """Parse a star-allele call. Malformed text is a ``ValueError``; an allele CPIC's
        table does not list is one too unless ``allow_unknown`` (then its phenotype is
        Indeterminate)."""
        match = _ALLELE.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"malformed {gene.value} star allele {text!r} "
                "(expected a call such as *4, *2x2 or *1xN)"
            )
        name, exact, unresolved, at_least = match.groups()
        copies = int(exact or at_least or (2 if unresolved else 1))
        if copies < 1:
            raise ValueError(f"malformed {gene.value} star allele {text!r}: no copies")
        known = CYP2D6_ACTIVITY if gene is Gene.CYP2D6 else CYP2C19_FUNCTION
        if not allow_unknown:
            if name not in known:
                raise ValueError(f"unknown {gene.value} star allele {text!r}")
            if copies > 1 and gene is not Gene.CYP2D6:
                raise ValueError(f"copy number not supported for {gene.value} allele {text!r}")
        return cls(gene, name, copies, open_ended=bool(unresolved or at_least))

    @property
    def known(self) -> bool:
        table = CYP2D6_ACTIVITY if self.gene is Gene.CYP2D6 else CYP2C19_FUNCTION
        return self.name in table

    def activity_range(self) -> tuple[float, float] | None:
        """(lowest, highest) activity of this call, or None without a CPIC activity value."""
        value = CYP2D6_ACTIVITY.get(self.name) if self.gene is Gene.CYP2D6 else None
        if value is None:
            return None
        low = value * self.copies
        return low, (math.inf if self.open_ended and value > 0 else low)

    def __str__(self) -> str:
        if self.copies == 1 and not self.open_ended:
            return self.name
        if self.open_ended:
            return f"{self.name}xN" if self.copies == 2 else f"{self.name}x≥{self.copies}"
        return f"{self.name}x{self.copies}"


@dataclass(frozen=True, slots=True)
class Diplotype:
    """The two alleles of one gene."""

    first: StarAllele
    second: StarAllele

    @classmethod
    def parse(cls, gene: Gene, text: str, allow_unknown: bool = False) -> Diplotype:
        """``*1/*4`` → Diplotype; anything but two star alleles around one ``/`` is a
        ``ValueError``."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) != 2:
            raise ValueError(
                f"malformed {gene.value} diplotype {text!r} (expected two star alleles, "
                "such as *1/*4)"
            )
        return cls(*(StarAllele.parse(gene, p, allow_unknown) for p in parts))

    @property
    def gene(self) -> Gene:
        return self.first.gene

    def activity_range(self) -> tuple[float, float] | None:
        """CYP2D6 activity-score range (a point unless a copy number is unresolved), or
        None when an allele has no CPIC activity value."""
        if self.gene is not Gene.CYP2D6:
            raise ValueError("activity scores are defined for CYP2D6 only")
        ranges = [a.activity_range() for a in (self.first, self.second)]
        if any(r is None for r in ranges):
            return None
        return ranges[0][0] + ranges[1][0], ranges[0][1] + ranges[1][1]

    def activity_score(self) -> float | None:
        """CYP2D6 activity score (sum of allele activity × copies); the lowest possible
        score for an unresolved copy number; None when an allele has no activity value."""
        scores = self.activity_range()
        return None if scores is None else scores[0]

    def phenotype(self) -> Phenotype:
        if self.gene is Gene.CYP2D6:
            scores = self.activity_range()
            if scores is None:
                return Phenotype.INDETERMINATE
            low, high = (_cyp2d6_phenotype(s) for s in scores)
            return low if low is high else Phenotype.INDETERMINATE
        return _cyp2c19_phenotype(self.first, self.second)

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


@cache
def _cyp2c19_rules() -> dict[tuple[str, ...], Phenotype]:
    rules = allele_table(Gene.CYP2C19)["phenotype_by_functions"]
    return {tuple(sorted(r["functions"])): Phenotype.from_cpic_name(r["phenotype"]) for r in rules}


def _cyp2c19_phenotype(a: StarAllele, b: StarAllele) -> Phenotype:
    if a.copies > 1 or b.copies > 1 or a.open_ended or b.open_ended:
        return Phenotype.INDETERMINATE  # CPIC gives no CYP2C19 copy-number rule
    functions = tuple(sorted((CYP2C19_FUNCTION.get(a.name, ""), CYP2C19_FUNCTION.get(b.name, ""))))
    return _cyp2c19_rules().get(functions, Phenotype.INDETERMINATE)


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
