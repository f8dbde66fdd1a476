"""The recommendation engine: candidate drugs for a patient and a condition, ranked by the
model's predicted benefit with CPIC's action applied on top.

* Candidates: those asked for, else the drugs indicated for the condition (or the
  patient's diagnosis), from the knowledge base.
* Benefit = P(response) − 0.5 × P(side effect) from the served network (the genotype-
  blind network when the patient has no genotype, said in the answer).
* CPIC first: a drug CPIC says to avoid for this genotype is never ranked above one it
  does not; it stays in the list, flagged, with CPIC's text. A dose adjustment is carried
  through. Within a tier, higher benefit first.
* Confidence: 1 − 2 × the Monte Carlo dropout spread of the benefit (clipped to 0–1):
  how much the answer moves when parts of the prediction head are switched off (16 draws
  of the head over the pair's features, which are computed once).
* Percentile: where this patient's benefit falls among the training patients' for the
  same drug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy as np

from novamind_core.domain.errors import ValidationError
from novamind_core.families.pharmacogenomics.bundle import SIDE_EFFECT_WEIGHT, Predictor, benefit
from novamind_core.families.pharmacogenomics.cases import PatientCase
from novamind_core.families.pharmacogenomics.guidance import recommend
from novamind_core.families.pharmacogenomics.knowledge_base import Action, load_knowledge_base

MC_SAMPLES = 16
MAX_CANDIDATES = 64


@dataclass(frozen=True)
class RankedDrug:
    rank: int
    drug: str
    drug_class: str
    efficacy_score: float  # predicted probability of response
    side_effect_risk: float  # predicted probability of a side effect
    benefit: float
    confidence: float
    percentile: float | None
    side_effects: list[tuple[str, float]]  # reported for this drug in training, with shares
    genetic_factors: dict[str, str]  # gene -> phenotype (CPIC term) the guidance used
    metabolizer_status: str
    cpic_action: str
    dose_adjustment_percent: int | None
    flagged: bool  # CPIC says avoid
    recommendation: str
    genotype_used: bool

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["side_effects"] = [{"effect": e, "share": s} for e, s in self.side_effects]
        out["genetic_factors"] = dict(self.genetic_factors)
        return out


def candidates_for(
    predictor: Predictor,
    case: PatientCase,
    condition: str | None,
    candidates: Sequence[str] | None,
) -> tuple[str, list[str]]:
    """(condition used, candidate drugs): the ones asked for (checked), else the drugs
    indicated for the condition or, without one, the patient's diagnosis."""
    kb = load_knowledge_base()
    chosen = (condition or case.diagnosis or "").strip().upper()
    if chosen not in kb.indications:
        raise ValidationError(
            f"unknown condition {condition or case.diagnosis!r}; known: {', '.join(kb.indications)}"
        )
    if candidates is not None:
        wanted = [str(d).strip().lower() for d in candidates]
        if not wanted:
            raise ValidationError("the candidate list is empty: name at least one drug")
        if len(wanted) > MAX_CANDIDATES:
            raise ValidationError(f"at most {MAX_CANDIDATES} candidate drugs")
        unknown = [d for d in wanted if d not in predictor.graphs.index]
        if unknown:
            raise ValidationError(
                f"unknown drug {', '.join(map(repr, unknown))}; the catalog has: "
                f"{', '.join(predictor.drugs)}"
            )
        return chosen, list(dict.fromkeys(wanted))
    return chosen, [d for d in kb.indications[chosen] if d in predictor.graphs.index]


def rank_many(
    predictor: Predictor,
    requests: Sequence[tuple[PatientCase, str | None, Sequence[str] | None]],
    samples: int = MC_SAMPLES,
) -> list[list[RankedDrug]]:
    """Each (case, condition, candidates) ranked; all pairs predicted in one pass."""
    plans = [candidates_for(predictor, case, cond, cands) for case, cond, cands in requests]
    pairs_case = [
        case for (case, _, _), (_, drugs) in zip(requests, plans, strict=True) for _ in drugs
    ]
    pairs_drug = [d for _, drugs in plans for d in drugs]
    predicted = predictor.predict(pairs_case, pairs_drug, samples=samples)
    out, first = [], 0
    for (case, _, _), (_, drugs) in zip(requests, plans, strict=True):
        last = first + len(drugs)
        part = {k: v[first:last] for k, v in predicted.items()}
        out.append(_ranked(predictor, case, drugs, part))
        first = last
    return out


def rank(
    predictor: Predictor,
    case: PatientCase,
    condition: str | None = None,
    candidates: Sequence[str] | None = None,
    samples: int = MC_SAMPLES,
) -> list[RankedDrug]:
    return rank_many(predictor, [(case, condition, candidates)], samples)[0]


def _ranked(predictor: Predictor, case: PatientCase, drugs: list[str], p: dict) -> list[RankedDrug]:
    guidance = cpic_guidance(case.diplotypes, tuple(drugs))
    scores = benefit(p["response"], p["side_effect"])
    spread = np.sqrt(
        p["response_spread"] ** 2 + (SIDE_EFFECT_WEIGHT * p["side_effect_spread"]) ** 2
    )
    confidence = np.clip(1.0 - 2.0 * spread, 0.0, 1.0)
    rows = []
    for i, drug in enumerate(drugs):
        g = guidance[drug]
        avoid = g.action is Action.AVOID
        status = "; ".join(f"{gene}: {phenotype}" for gene, phenotype in g.phenotypes.items())
        text = g.recommendation
        if not case.genotyped:
            text = "No genotype: predicted by the genotype-blind model. " + text
        rows.append(
            (
                avoid,
                -float(scores[i]),
                RankedDrug(
                    rank=0,
                    drug=drug,
                    drug_class=predictor.catalog.classes.get(drug, g.drug_class),
                    efficacy_score=round(float(p["response"][i]), 4),
                    side_effect_risk=round(float(p["side_effect"][i]), 4),
                    benefit=round(float(scores[i]), 4),
                    confidence=round(float(confidence[i]), 3),
                    percentile=_round(
                        predictor.percentile(drug, float(scores[i]), bool(p["genotype_used"][i]))
                    ),
                    side_effects=predictor.catalog.side_effects.get(drug, []),
                    genetic_factors=dict(g.phenotypes),
                    metabolizer_status=status or "no metabolizing gene genotyped for this drug",
                    cpic_action=g.action.value,
                    dose_adjustment_percent=g.dose_adjustment_percent,
                    flagged=avoid,
                    recommendation=text,
                    genotype_used=bool(p["genotype_used"][i]),
                ),
            )
        )
    rows.sort(key=lambda r: (r[0], r[1], r[2].drug))
    return [replace(r, rank=n + 1) for n, (_, _, r) in enumerate(rows)]


def cpic_guidance(diplotypes, drugs: tuple[str, ...]) -> dict:
    """CPIC's guidance per drug for these diplotypes (``guidance.recommend``), kept for
    the genotypes seen last: a ranking asks it for the same few genotypes again and again
    (its answers are immutable values)."""
    key = tuple(sorted((gene.value, str(d)) for gene, d in diplotypes.items()))
    return _cached_guidance(key, drugs)


@lru_cache(maxsize=4096)
def _cached_guidance(key: tuple, drugs: tuple[str, ...]) -> dict:
    from novamind_core.domain.pharmacogenomics import Gene
    from novamind_core.families.pharmacogenomics.guidance import parse_diplotype

    diplotypes = {Gene(gene): parse_diplotype(Gene(gene), text) for gene, text in key}
    return {g.drug: g for g in recommend(diplotypes, drugs=drugs)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
