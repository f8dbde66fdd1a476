"""Genotype → activity score → phenotype, against CPIC's rules and an independent table.

The independent table is the one that ships inside the MIT-licensed ``pypgx`` package
(a test-only dependency; its data files are read directly, the package is not imported).
Every diplotype of the alleles either table lists is compared; each difference must be
explained by an allele in ``DOCUMENTED`` (and each entry there must still explain one).
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import math
import re
from pathlib import Path

import pytest

from novamind_core.domain.pharmacogenomics import (
    CYP2C19_FUNCTION,
    CYP2D6_ACTIVITY,
    Diplotype,
    Gene,
    Phenotype,
)
from novamind_core.families.pharmacogenomics.guidance import parse_genotype_options, translate

# allele -> why our CPIC-derived table and pypgx 0.27.0 disagree about it
DOCUMENTED_CYP2D6 = {
    "*27": "listed by CPIC's current table (normal function, 1.0); absent from pypgx",
    "*32": "listed by CPIC's current table (decreased function, 0.25); absent from pypgx",
    "*52": "CPIC's current table assigns 0.25; pypgx lists uncertain function",
    "*91": "CPIC's current table assigns 0.25; pypgx lists uncertain function",
    "*109": "CPIC's current table assigns 0.25; pypgx lists uncertain function",
    "*119": "CPIC's current table assigns 0.25; pypgx lists unknown function",
    "*132": "CPIC's current table assigns 0.25; pypgx lists unknown function",
    "*144": "CPIC's current table assigns no function (0.0); pypgx lists unknown function",
    "*156": "listed by CPIC's current table (no function); absent from pypgx",
    "*161": "listed by CPIC's current table (no function); absent from pypgx",
    "*57": "pypgx lists no function; CPIC's current table no longer lists it: Indeterminate",
}
DOCUMENTED_CYP2C19: dict[str, str] = {}
COPY_NUMBER_ALLELES = ("*1", "*2", "*3", "*4", "*9", "*10", "*17", "*29", "*35", "*41")


def pypgx_data() -> Path:
    spec = importlib.util.find_spec("pypgx")
    if spec is None:
        pytest.skip("pypgx (test-only dependency) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "api" / "data"


def rows(name: str, gene: str) -> list[dict]:
    with (pypgx_data() / name).open() as handle:
        return [r for r in csv.DictReader(handle) if r["Gene"] == gene]


def pypgx_cyp2d6_phenotype(a: str, b: str, scores: dict, equations: list) -> str:
    """pypgx's method: allele activity × copies, summed, through its equation table."""
    total = 0.0
    for allele in (a, b):
        name, _, copies = allele.partition("x")
        value = scores.get(name)
        if value is None:
            return "Indeterminate"
        total += value * int(copies or 1)
    for phenotype, low, high in equations:
        if low <= total < high:
            return phenotype
    raise AssertionError(f"no pypgx equation for {total}")


def test_cyp2d6_matches_pypgx_for_every_diplotype_except_documented_alleles():
    scores = {
        r["StarAllele"]: None if r["ActivityScore"] == "N/A" else float(r["ActivityScore"])
        for r in rows("allele-table.csv", "CYP2D6")
    }
    equations = []
    for r in rows("equation-table.csv", "CYP2D6"):
        bounds = re.findall(r"[\d.]+", r["Equation"])
        equations.append(
            (r["Phenotype"], float(bounds[0]), float(bounds[1]) if len(bounds) > 1 else math.inf)
        )
    alleles = sorted(set(scores) | set(CYP2D6_ACTIVITY), key=lambda s: int(s[1:]))
    alleles += [f"{a}x{n}" for a in COPY_NUMBER_ALLELES for n in (2, 3)]
    differences, compared = {}, 0
    for a, b in itertools.combinations_with_replacement(alleles, 2):
        ours = Diplotype.parse(Gene.CYP2D6, f"{a}/{b}", allow_unknown=True).phenotype()
        theirs = pypgx_cyp2d6_phenotype(a, b, scores, equations)
        compared += 1
        if ours.cpic_name != theirs:
            differences[f"{a}/{b}"] = (ours.cpic_name, theirs)
    undocumented = {
        d: v
        for d, v in differences.items()
        if not {x.partition("x")[0] for x in d.split("/")} & DOCUMENTED_CYP2D6.keys()
    }
    assert not undocumented, f"undocumented differences from pypgx: {undocumented}"
    explained = {x.partition("x")[0] for d in differences for x in d.split("/")}
    assert set(DOCUMENTED_CYP2D6) <= explained, "a documented difference no longer occurs"
    assert compared > 15_000


def test_cyp2c19_matches_pypgx_diplotype_table_for_every_diplotype():
    table = {}
    for r in rows("diplotype-table.csv", "CYP2C19"):
        a, b = r["Diplotype"].split("/")
        table[frozenset((a, b))] = r["Phenotype"]
    alleles = {r["StarAllele"] for r in rows("allele-table.csv", "CYP2C19")} | set(CYP2C19_FUNCTION)
    differences, compared = {}, 0
    for a, b in itertools.combinations_with_replacement(sorted(alleles), 2):
        ours = Diplotype.parse(Gene.CYP2C19, f"{a}/{b}", allow_unknown=True).phenotype()
        theirs = table.get(frozenset((a, b)), "Indeterminate")
        compared += 1
        if ours.cpic_name != theirs:
            differences[f"{a}/{b}"] = (ours.cpic_name, theirs)
    undocumented = {
        d: v for d, v in differences.items() if not set(d.split("/")) & DOCUMENTED_CYP2C19.keys()
    }
    assert not undocumented, f"undocumented differences from pypgx: {undocumented}"
    assert compared > 600


# Expected values written from CPIC's tables (not computed by the code under test).
@pytest.mark.parametrize(
    ("call", "score", "phenotype"),
    [
        ("*1/*1", 2.0, "Normal Metabolizer"),
        ("*1/*4", 1.0, "Intermediate Metabolizer"),  # AS 1.0: IM since the 2019 consensus
        ("*1/*10", 1.25, "Normal Metabolizer"),
        ("*4/*10", 0.25, "Intermediate Metabolizer"),
        ("*4/*4", 0.0, "Poor Metabolizer"),
        ("*5/*4x2", 0.0, "Poor Metabolizer"),
        ("*1/*1x2", 3.0, "Ultrarapid Metabolizer"),
        ("*1x2/*41", 2.5, "Ultrarapid Metabolizer"),
        ("*2x2/*4", 2.0, "Normal Metabolizer"),
        ("*10x2/*4", 0.5, "Intermediate Metabolizer"),
        ("*1/*2xN", "≥3.0", "Ultrarapid Metabolizer"),  # 2 or more copies: always > 2.25
        ("*41/*1xN", "≥2.5", "Ultrarapid Metabolizer"),
        ("*4/*1x≥3", "≥3.0", "Ultrarapid Metabolizer"),  # CPIC: xN, N >= 3, of normal = UM
        ("*4/*4xN", 0.0, "Poor Metabolizer"),  # no function at any copy number
        ("*4/*1xN", "≥2.0", "Indeterminate"),  # N = 2: normal, N = 3: ultrarapid
        ("*4/*10xN", "≥0.5", "Indeterminate"),  # N = 2: IM, N = 5: normal
        ("*1/*22", None, "Indeterminate"),  # uncertain function
        ("*1/*999", None, "Indeterminate"),  # not in CPIC's table
    ],
)
def test_cyp2d6_copy_number_and_indeterminate_calls(call, score, phenotype):
    (result,) = translate(parse_genotype_options([f"CYP2D6={call}"]))
    assert result.activity_score == score
    assert result.phenotype.cpic_name == phenotype


@pytest.mark.parametrize(
    ("call", "phenotype"),
    [
        ("*1/*1", "Normal Metabolizer"),
        ("*1/*17", "Rapid Metabolizer"),
        ("*17/*17", "Ultrarapid Metabolizer"),
        ("*1/*2", "Intermediate Metabolizer"),
        ("*2/*17", "Intermediate Metabolizer"),  # 2023 CPIC table
        ("*3/*2", "Poor Metabolizer"),
        ("*1/*9", "Likely Intermediate Metabolizer"),
        ("*9/*17", "Likely Intermediate Metabolizer"),
        ("*2/*9", "Likely Poor Metabolizer"),
        ("*1/*12", "Indeterminate"),
        ("*17x2/*1", "Indeterminate"),  # CPIC has no CYP2C19 copy-number rule
        ("*999/*1", "Indeterminate"),
    ],
)
def test_cyp2c19_phenotypes_as_cpic_writes_them(call, phenotype):
    (result,) = translate(parse_genotype_options([f"CYP2C19={call}"]))
    assert result.phenotype.cpic_name == phenotype
    assert result.activity_score is None


def test_likely_phenotypes_take_the_definitive_recommendations():
    assert Phenotype.LIKELY_POOR.recommendation_phenotype is Phenotype.POOR
    assert Phenotype.LIKELY_INTERMEDIATE.recommendation_phenotype is Phenotype.INTERMEDIATE
    assert Phenotype.RAPID.recommendation_phenotype is Phenotype.RAPID
