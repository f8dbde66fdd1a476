"""Per-drug CPIC guidance for a patient's CYP2D6 and CYP2C19 diplotypes.

The rules, decided once:

* A gene–diplotype call is read leniently about *content* and strictly about *form*: an
  allele CPIC's table does not know (``*999``), an allele of uncertain function or an
  unresolved copy number gives the phenotype "Indeterminate"; text that is not a
  diplotype (``4/4``, ``*1``, an empty call) or a gene the platform does not genotype is a
  ``ValidationError`` naming the problem.
* A drug whose genes were all genotyped gets the guideline row that covers the most genes
  (the TCA guideline's CYP2D6 × CYP2C19 table before its single-gene tables).
* A drug with a gene not genotyped gets the rows of the genes that were (CPIC's
  single-gene tables exist for that case); the missing gene is reported as "no genotype"
  and the recommendation says so. A drug none of whose genes was genotyped is
  ``no_genotype`` — never "standard".
* An Indeterminate phenotype of a gene the drug depends on gives ``indeterminate``: CPIC
  makes no recommendation for it, and neither does the platform.
* A catalog drug no guideline covers is ``no_guidance``, said plainly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.domain.pharmacogenomics import Diplotype, Gene, Phenotype
from novamind_core.families.pharmacogenomics.knowledge_base import (
    Action,
    GuidanceRow,
    KnowledgeBase,
    load_knowledge_base,
)

NO_GENOTYPE = "no genotype"
# Most cautious first: the action reported when several single-gene rows apply.
CAUTION = (Action.AVOID, Action.REDUCE, Action.INCREASE, Action.NO_GUIDANCE, Action.STANDARD)
OTHER_GENES = {
    "CYP2B6": "CYP2B6 is not genotyped by this platform (CPIC's sertraline guidance uses it: "
    "sertraline reports 'no genotype' for CYP2B6)",
}


@dataclass(frozen=True, slots=True)
class GeneResult:
    """One gene's translation: diplotype → activity score → CPIC phenotype."""

    gene: str
    diplotype: str
    phenotype: Phenotype
    activity_range: tuple[float, float] | None
    reason: str = ""  # why a phenotype is Indeterminate

    @property
    def activity_score(self) -> float | str | None:
        """The activity score (CYP2D6); ``"≥3.0"`` for an unresolved copy number."""
        if self.activity_range is None:
            return None
        low, high = self.activity_range
        return low if low == high else f"≥{low:.1f}"

    def as_dict(self) -> dict:
        return {
            "gene": self.gene,
            "diplotype": self.diplotype,
            "activity_score": self.activity_score,
            "phenotype": self.phenotype.cpic_name,
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True, slots=True)
class DrugGuidance:
    drug: str
    drug_class: str
    action: Action
    dose_adjustment_percent: int | None
    phenotypes: dict[str, str]
    activity_scores: dict[str, float | str | None]
    recommendation: str
    strength: str | None
    source: str
    guideline: str | None
    missing_genes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "drug": self.drug,
            "drug_class": self.drug_class,
            "action": self.action.value,
            "dose_adjustment_percent": self.dose_adjustment_percent,
            "phenotypes": self.phenotypes,
            "activity_scores": self.activity_scores,
            "recommendation": self.recommendation,
            "strength": self.strength,
            "source": self.source,
            "guideline": self.guideline,
            "missing_genes": list(self.missing_genes),
        }


def parse_gene(name: str) -> Gene:
    try:
        return Gene(name.strip().upper())
    except ValueError:
        known = ", ".join(g.value for g in Gene)
        extra = OTHER_GENES.get(name.strip().upper())
        raise ValidationError(
            f"unknown gene {name.strip()!r}: genotypes are read for {known}"
            + (f"; {extra}" if extra else "")
        ) from None


def parse_diplotype(gene: Gene, text: str) -> Diplotype:
    try:
        return Diplotype.parse(gene, text, allow_unknown=True)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def parse_genotype_options(options: Iterable[str]) -> dict[Gene, Diplotype]:
    """``["CYP2D6=*4/*10", "CYP2C19=*1/*17"]`` → diplotypes (one per gene)."""
    diplotypes: dict[Gene, Diplotype] = {}
    for option in options:
        gene_text, sep, call = option.partition("=")
        if not sep:
            raise ValidationError(
                f"--genotype {option!r}: expected GENE=DIPLOTYPE, e.g. CYP2D6='*1/*4'"
            )
        gene = parse_gene(gene_text)
        if gene in diplotypes:
            raise ValidationError(f"--genotype names {gene.value} twice")
        diplotypes[gene] = parse_diplotype(gene, call.strip())
    return diplotypes


def translate(diplotypes: Mapping[Gene, Diplotype]) -> list[GeneResult]:
    """The phenotype of each genotyped gene, in the order of ``Gene``."""
    results = []
    for gene in Gene:
        if gene not in diplotypes:
            continue
        d = diplotypes[gene]
        scores = d.activity_range() if gene is Gene.CYP2D6 else None
        phenotype = d.phenotype()
        results.append(GeneResult(gene.value, str(d), phenotype, scores, _why(d, phenotype)))
    return results


def _why(d: Diplotype, phenotype: Phenotype) -> str:
    if phenotype is not Phenotype.INDETERMINATE:
        return ""
    unknown = [str(a) for a in (d.first, d.second) if not a.known]
    if unknown:
        return f"allele {', '.join(unknown)} is not in CPIC's {d.gene.value} allele table"
    if d.gene is Gene.CYP2C19 and any(a.copies > 1 or a.open_ended for a in (d.first, d.second)):
        return "CPIC gives no copy-number rule for CYP2C19"
    if d.gene is Gene.CYP2D6 and d.activity_range() is not None:
        return "the unresolved copy number spans more than one phenotype"
    return "an allele has uncertain or unknown function in CPIC's table"


def recommend(
    diplotypes: Mapping[Gene, Diplotype],
    drugs: Iterable[str] | None = None,
    condition: str | None = None,
    kb: KnowledgeBase | None = None,
) -> list[DrugGuidance]:
    """CPIC guidance for each requested catalog drug (all of them by default), in catalog
    order. Unknown drug or condition names are errors naming the known ones."""
    kb = kb or load_knowledge_base()
    names = _select(kb, drugs, condition)
    genes = {r.gene: r for r in translate(diplotypes)}
    return [_guidance(kb, name, genes) for name in names]


def _select(kb: KnowledgeBase, drugs: Iterable[str] | None, condition: str | None) -> list[str]:
    names = list(kb.catalog)
    if drugs:
        wanted = [d.strip().lower() for d in drugs]
        unknown = [d for d in wanted if d not in kb.catalog]
        if unknown:
            raise NotFoundError(
                f"not in the medication catalog: {', '.join(unknown)} "
                f"(catalog: {', '.join(sorted(kb.catalog))})"
            )
        names = [n for n in names if n in wanted]
    if condition:
        key = condition.strip().upper()
        if key not in kb.indications:
            raise ValidationError(
                f"unknown condition {condition!r} (known: {', '.join(kb.indications)})"
            )
        names = [n for n in names if n in kb.indications[key]]
    return names


def _guidance(kb: KnowledgeBase, drug: str, genes: Mapping[str, GeneResult]) -> DrugGuidance:
    entry = kb.catalog[drug]
    guideline = kb.guideline_for(drug)
    relevant = guideline.drugs[drug] if guideline else entry.metabolized_by
    phenotypes = {g: genes[g].phenotype.cpic_name if g in genes else NO_GENOTYPE for g in relevant}
    scores = {g: genes[g].activity_score for g in relevant if g == Gene.CYP2D6.value and g in genes}
    base = {
        "drug": drug,
        "drug_class": entry.drug_class,
        "phenotypes": phenotypes,
        "activity_scores": scores,
    }
    if guideline is None:
        note = kb.no_recommendation_note(drug) or (
            f"No CPIC guideline gives genotype-based dosing for {drug} "
            "(neither the 2023 SSRI/SNRI nor the 2016 TCA guideline covers it)."
        )
        return DrugGuidance(
            **base,
            action=Action.NO_GUIDANCE,
            dose_adjustment_percent=None,
            recommendation=note,
            strength=None,
            source="none",
            guideline=None,
        )
    missing = tuple(g for g in relevant if g not in genes)
    present = [g for g in relevant if g in genes]
    if not present:
        return DrugGuidance(
            **base,
            action=Action.NO_GENOTYPE,
            dose_adjustment_percent=None,
            recommendation=f"No {' or '.join(relevant)} genotype: CPIC's recommendation for "
            f"{drug} depends on it ({guideline.name}).",
            strength=None,
            source=guideline.citation,
            guideline=guideline.name,
            missing_genes=missing,
        )
    undetermined = [g for g in present if genes[g].phenotype is Phenotype.INDETERMINATE]
    if undetermined:
        why = "; ".join(f"{g} {genes[g].diplotype}: {genes[g].reason}" for g in undetermined)
        return DrugGuidance(
            **base,
            action=Action.INDETERMINATE,
            dose_adjustment_percent=None,
            recommendation=f"Indeterminate phenotype ({why}). CPIC gives no recommendation "
            "for an indeterminate phenotype; none is inferred.",
            strength=None,
            source=guideline.citation,
            guideline=guideline.name,
            missing_genes=missing,
        )
    rows = _matching_rows(kb.rows_for(drug), genes)
    if not rows:
        return DrugGuidance(
            **base,
            action=Action.NO_GUIDANCE,
            dose_adjustment_percent=None,
            recommendation=f"{guideline.name} has no row for these phenotypes.",
            strength=None,
            source=guideline.citation,
            guideline=guideline.name,
            missing_genes=missing,
        )
    row = min(rows, key=lambda r: CAUTION.index(r.action))
    text = " ".join(dict.fromkeys(r.recommendation for r in rows))
    if missing:
        text += (
            f" [Based on the {'/'.join(sorted(row.genes))} table alone: no "
            f"{' or '.join(missing)} genotype, which CPIC's recommendation for {drug} also uses.]"
        )
    return DrugGuidance(
        **base,
        action=row.action,
        dose_adjustment_percent=row.dose_adjustment_percent,
        recommendation=text,
        strength=row.strength,
        source=row.source,
        guideline=guideline.name,
        missing_genes=missing,
    )


def _matching_rows(rows: Iterable[GuidanceRow], genes: Mapping[str, GeneResult]):
    """The rows whose genes were all genotyped and whose conditions hold, keeping only
    those that cover the most genes (a combined table before single-gene tables)."""
    hits = [
        r
        for r in rows
        if r.genes <= genes.keys()
        and all(
            c.matches(genes[c.gene].phenotype, genes[c.gene].activity_range) for c in r.conditions
        )
    ]
    widest = max((len(r.genes) for r in hits), default=0)
    return [r for r in hits if len(r.genes) == widest]
