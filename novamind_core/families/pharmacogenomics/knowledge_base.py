"""The CPIC knowledge base: the guidelines' recommendation rows as data files in ``data/``.

Each row names a drug, the phenotypes (or CYP2D6 activity-score range) of one or two genes
it applies to, the action, the dose adjustment in percent, CPIC's words, the strength of
the recommendation and where it comes from. Loading checks the files, so a typo in a
phenotype or an action fails at once rather than never matching.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from novamind_core.domain.pharmacogenomics import Phenotype
from novamind_core.infrastructure.synthetic.reference_data import medication_catalog

GUIDELINE_FILES = ("cpic_ssri_snri_2023.json", "cpic_tca_2016.json")
STRENGTHS = ("Strong", "Moderate", "Optional", "No recommendation")


class Action(StrEnum):
    """What a recommendation asks for (the last three describe a missing answer)."""

    STANDARD = "standard"
    REDUCE = "reduce"
    INCREASE = "increase"
    AVOID = "avoid"
    NO_GUIDANCE = "no_guidance"
    NO_GENOTYPE = "no_genotype"
    INDETERMINATE = "indeterminate"


ROW_ACTIONS = {Action.STANDARD, Action.REDUCE, Action.INCREASE, Action.AVOID, Action.NO_GUIDANCE}


@dataclass(frozen=True, slots=True)
class Condition:
    """One gene's part of a row: a set of CPIC phenotypes, or an activity-score range."""

    gene: str
    phenotypes: frozenset[str] = frozenset()
    score_range: tuple[float, float] | None = None

    def matches(self, phenotype: Phenotype, scores: tuple[float, float] | None) -> bool:
        if self.score_range is not None:
            low, high = self.score_range
            return scores is not None and low <= scores[0] and scores[1] <= high
        return phenotype.recommendation_phenotype.cpic_name in self.phenotypes


@dataclass(frozen=True, slots=True)
class GuidanceRow:
    drug: str
    conditions: tuple[Condition, ...]
    action: Action
    dose_adjustment_percent: int | None
    recommendation: str
    strength: str
    source: str
    guideline: str

    @property
    def genes(self) -> frozenset[str]:
        return frozenset(c.gene for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Guideline:
    name: str  # short, e.g. "CPIC 2016 TCA"
    title: str
    citation: str
    year: int
    drugs: Mapping[str, tuple[str, ...]]  # drug -> genes its recommendation depends on
    rows: tuple[GuidanceRow, ...]
    reviewed_without_recommendation: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CatalogDrug:
    name: str
    drug_class: str
    metabolized_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    guidelines: tuple[Guideline, ...]
    catalog: Mapping[str, CatalogDrug]
    indications: Mapping[str, tuple[str, ...]]

    def guideline_for(self, drug: str) -> Guideline | None:
        return next((g for g in self.guidelines if drug in g.drugs), None)

    def rows_for(self, drug: str) -> tuple[GuidanceRow, ...]:
        guideline = self.guideline_for(drug)
        return () if guideline is None else tuple(r for r in guideline.rows if r.drug == drug)

    def covered_drugs(self) -> set[str]:
        return {d for g in self.guidelines for d in g.drugs}

    def no_recommendation_note(self, drug: str) -> str | None:
        for g in self.guidelines:
            if drug in g.reviewed_without_recommendation:
                return g.reviewed_without_recommendation[drug]
        return None


def _data(name: str) -> dict:
    return json.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


def _condition(gene: str, spec: dict, where: str) -> Condition:
    if "activity_score" in spec:
        low, high = spec["activity_score"]
        return Condition(gene, score_range=(float(low), float(high)))
    names = frozenset(spec["phenotypes"])
    for name in names:
        Phenotype.from_cpic_name(name)  # a typo fails here, not silently later
    if not names:
        raise ValueError(f"{where}: a condition names no phenotype")
    return Condition(gene, phenotypes=names)


def _row(raw: dict, guideline: str, where: str) -> GuidanceRow:
    action = Action(raw["action"])
    if action not in ROW_ACTIONS or raw["strength"] not in STRENGTHS:
        raise ValueError(f"{where}: bad action {action!r} or strength {raw['strength']!r}")
    return GuidanceRow(
        drug=raw["drug"],
        conditions=tuple(_condition(g, s, where) for g, s in sorted(raw["when"].items())),
        action=action,
        dose_adjustment_percent=raw["dose_adjustment_percent"],
        recommendation=raw["recommendation"],
        strength=raw["strength"],
        source=raw["source"],
        guideline=guideline,
    )


def _guideline(filename: str) -> Guideline:
    raw = _data(filename)
    name = "CPIC {year} {kind}".format(
        year=raw["year"], kind="TCA" if "tca" in filename else "SSRI/SNRI"
    )
    rows = tuple(_row(r, name, f"{filename} row {i}") for i, r in enumerate(raw["rows"]))
    return Guideline(
        name=name,
        title=raw["guideline"],
        citation=raw["citation"],
        year=raw["year"],
        drugs={d: tuple(genes) for d, genes in raw["drugs"].items()},
        rows=rows,
        reviewed_without_recommendation=raw.get("reviewed_without_recommendation", {}),
    )


@cache
def load_knowledge_base() -> KnowledgeBase:
    """Both guidelines, the medication catalog and the indications (read once)."""
    catalog = {
        m["name"]: CatalogDrug(m["name"], m["drug_class"], tuple(m["metabolized_by"]))
        for m in medication_catalog()
    }
    indications = {c: tuple(d) for c, d in _data("indications.json")["conditions"].items()}
    return KnowledgeBase(tuple(_guideline(f) for f in GUIDELINE_FILES), catalog, indications)
