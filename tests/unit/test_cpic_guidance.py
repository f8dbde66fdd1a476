"""Per-drug guidance against an expected table written from the guidelines themselves.

EXPECTED below was typed by hand, not generated from the knowledge-base files or the code.
SSRI/SNRI rows (Bousman et al., Clin Pharmacol Ther 2023): from CPIC's recommendation data
as vendored by PharmCAT (PharmGKB/PharmCAT, src/main/resources/org/pharmgkb/pharmcat/
reporter/guidelines/cpic/<drug>.json at commit 4cdfc34d990e, CPIC database v1.28.0); the
sertraline CYP2C19 rows are CPIC's lookups with CYP2B6 "No Result". TCA rows (Hicks et al.,
Clin Pharmacol Ther 2017; Table 4 is the CYP2D6 × CYP2C19 table): from the published tables,
nortriptyline and desipramine also checked against the same PharmCAT files (nortriptyline:
CYP2D6 activity score 0.25-0.5 Moderate, 0.75-1.0 Optional).
Columns: drug, CYP2D6 phenotype, CYP2C19 phenotype, action, dose %, strength.
"""

from __future__ import annotations

import pytest

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.families.pharmacogenomics.guidance import (
    parse_genotype_options,
    recommend,
    translate,
)
from novamind_core.families.pharmacogenomics.knowledge_base import load_knowledge_base

CALL = {  # a diplotype for each phenotype
    "CYP2D6": {
        "UM": "*1/*1x2",
        "NM": "*1/*1",
        "IM": "*4/*10",
        "IM0.75": "*10/*41",
        "IM1.0": "*1/*4",
        "PM": "*4/*4",
    },
    "CYP2C19": {
        "UM": "*17/*17",
        "RM": "*1/*17",
        "NM": "*1/*1",
        "IM": "*1/*2",
        "PM": "*2/*2",
        "LIM": "*1/*9",
        "LPM": "*2/*9",
    },
}

EXPECTED = """
paroxetine    UM -  avoid       -    Moderate
paroxetine    NM -  standard    -    Strong
paroxetine    IM -  reduce      -    Optional
paroxetine    IM1.0 - reduce    -    Optional
paroxetine    PM -  reduce      -50  Moderate
fluvoxamine   UM -  no_guidance -    No recommendation
fluvoxamine   NM -  standard    -    Strong
fluvoxamine   IM -  standard    -    Moderate
fluvoxamine   PM -  reduce      -    Optional
venlafaxine   UM -  no_guidance -    No recommendation
venlafaxine   NM -  standard    -    Strong
venlafaxine   IM -  no_guidance -    No recommendation
venlafaxine   PM -  avoid       -    Optional
vortioxetine  UM -  avoid       -    Optional
vortioxetine  NM -  standard    -    Strong
vortioxetine  IM -  standard    -    Moderate
vortioxetine  PM -  reduce      -50  Moderate
citalopram    -  UM avoid       -    Strong
citalopram    -  RM increase    -    Optional
citalopram    -  NM standard    -    Strong
citalopram    -  IM reduce      -    Moderate
citalopram    -  LIM reduce     -    Moderate
citalopram    -  PM avoid       -50  Strong
citalopram    -  LPM avoid      -50  Strong
escitalopram  -  UM avoid       -    Strong
escitalopram  -  RM increase    -    Optional
escitalopram  -  NM standard    -    Strong
escitalopram  -  IM reduce      -    Moderate
escitalopram  -  LIM reduce     -    Moderate
escitalopram  -  PM avoid       -50  Strong
escitalopram  -  LPM avoid      -50  Strong
sertraline    -  UM standard    -    Strong
sertraline    -  RM standard    -    Strong
sertraline    -  NM standard    -    Strong
sertraline    -  IM reduce      -    Moderate
sertraline    -  LIM reduce     -    Moderate
sertraline    -  PM reduce      -50  Moderate
sertraline    -  LPM reduce     -50  Moderate
nortriptyline UM -  avoid       -    Strong
nortriptyline NM -  standard    -    Strong
nortriptyline IM -  reduce      -25  Moderate
nortriptyline IM0.75 - reduce   -25  Optional
nortriptyline IM1.0 - reduce    -25  Optional
nortriptyline PM -  avoid       -50  Strong
desipramine   UM -  avoid       -    Optional
desipramine   NM -  standard    -    Strong
desipramine   IM -  reduce      -25  Optional
desipramine   IM0.75 - reduce   -25  Optional
desipramine   PM -  avoid       -50  Optional
"""

# Hicks 2017 Table 4, amitriptyline: CYP2D6 row x CYP2C19 column -> action, dose %, strength
TABLE_4 = {
    ("UM", "UM"): ("avoid", None, "Optional"),
    ("UM", "RM"): ("avoid", None, "Optional"),
    ("UM", "NM"): ("avoid", None, "Strong"),
    ("UM", "IM"): ("avoid", None, "Optional"),
    ("UM", "PM"): ("avoid", None, "Optional"),
    ("NM", "UM"): ("avoid", None, "Optional"),
    ("NM", "RM"): ("avoid", None, "Optional"),
    ("NM", "NM"): ("standard", None, "Strong"),
    ("NM", "IM"): ("standard", None, "Strong"),
    ("NM", "PM"): ("avoid", -50, "Moderate"),
    ("IM", "UM"): ("avoid", None, "Optional"),
    ("IM", "RM"): ("avoid", None, "Optional"),
    ("IM", "NM"): ("reduce", -25, "Moderate"),
    ("IM", "IM"): ("reduce", -25, "Optional"),
    ("IM", "PM"): ("avoid", None, "Optional"),
    ("PM", "UM"): ("avoid", None, "Optional"),
    ("PM", "RM"): ("avoid", None, "Optional"),
    ("PM", "NM"): ("avoid", -50, "Strong"),
    ("PM", "IM"): ("avoid", -50, "Optional"),
    ("PM", "PM"): ("avoid", None, "Optional"),
}
OTHER_TERTIARY = ("clomipramine", "doxepin", "imipramine")  # trimipramine: not in the catalog
# Hicks 2017 Tables 2 and 3: one gene genotyped (amitriptyline strengths)
CYP2D6_ONLY = {
    "UM": ("avoid", None, "Strong"),
    "NM": ("standard", None, "Strong"),
    "IM": ("reduce", -25, "Moderate"),
    "PM": ("avoid", -50, "Strong"),
}
CYP2C19_ONLY = {
    "UM": ("avoid", None, "Optional"),
    "RM": ("avoid", None, "Optional"),
    "NM": ("standard", None, "Strong"),
    "IM": ("standard", None, "Strong"),
    "PM": ("avoid", -50, "Moderate"),
}


def expected_rows():
    for line in EXPECTED.strip().splitlines():
        drug, d6, c19, action, pct, strength = line.split(maxsplit=5)
        yield drug, d6, c19, action, None if pct == "-" else int(pct), strength


def guidance_for(drug: str, **phenotypes: str):
    options = [f"{gene}={CALL[gene][p]}" for gene, p in phenotypes.items()]
    (result,) = recommend(parse_genotype_options(options), drugs=[drug])
    return result


@pytest.mark.parametrize(("drug", "d6", "c19", "action", "pct", "strength"), expected_rows())
def test_single_gene_guidance_follows_the_guidelines(drug, d6, c19, action, pct, strength):
    genes = {"CYP2D6": d6} if d6 != "-" else {"CYP2C19": c19}
    result = guidance_for(drug, **genes)
    assert (result.action.value, result.dose_adjustment_percent, result.strength) == (
        action,
        pct,
        strength,
    )
    assert result.source.startswith(
        "Bousman"
        if drug not in ("nortriptyline", "desipramine")
        else ("Hicks", "CPIC recommendation for nortriptyline")
    )


@pytest.mark.parametrize(("d6", "c19"), list(TABLE_4))
def test_tertiary_amines_use_the_combined_cyp2d6_cyp2c19_table(d6, c19):
    action, pct, strength = TABLE_4[(d6, c19)]
    result = guidance_for("amitriptyline", CYP2D6=d6, CYP2C19=c19)
    assert (result.action.value, result.dose_adjustment_percent, result.strength) == (
        action,
        pct,
        strength,
    )
    assert "Table 4" in result.source and not result.missing_genes
    for drug in OTHER_TERTIARY:  # "may be reasonable to apply" with fewer data: Optional
        other = guidance_for(drug, CYP2D6=d6, CYP2C19=c19)
        assert (other.action.value, other.dose_adjustment_percent) == (action, pct)
        assert other.strength == ("Strong" if (d6, c19) == ("NM", "NM") else "Optional")


def test_trimipramine_rows_exist_for_every_combination():
    rows = load_knowledge_base().rows_for("trimipramine")
    combined = [r for r in rows if len(r.genes) == 2]
    assert len(combined) == 20
    assert [r.strength for r in combined].count("Strong") == 1  # NM/NM; the rest Optional
    actions = {
        (c.gene, *sorted(c.phenotypes)): r.action.value
        for r in combined
        for c in r.conditions
        if c.gene == "CYP2D6"
    }
    assert actions[("CYP2D6", "Poor Metabolizer")] == "avoid"


@pytest.mark.parametrize("d6", list(CYP2D6_ONLY))
def test_tertiary_amine_with_cyp2d6_only_uses_table_2_and_says_what_is_missing(d6):
    result = guidance_for("amitriptyline", CYP2D6=d6)
    assert (result.action.value, result.dose_adjustment_percent, result.strength) == CYP2D6_ONLY[d6]
    assert result.phenotypes["CYP2C19"] == "no genotype"
    assert result.missing_genes == ("CYP2C19",) and "no CYP2C19 genotype" in result.recommendation


@pytest.mark.parametrize("c19", list(CYP2C19_ONLY))
def test_tertiary_amine_with_cyp2c19_only_uses_table_3(c19):
    result = guidance_for("amitriptyline", CYP2C19=c19)
    assert (result.action.value, result.dose_adjustment_percent, result.strength) == (
        CYP2C19_ONLY[c19]
    )
    assert result.phenotypes["CYP2D6"] == "no genotype"


def test_one_gene_only_other_genes_drugs_say_no_genotype_not_standard():
    by_drug = {r.drug: r for r in recommend(parse_genotype_options(["CYP2D6=*1/*1"]))}
    for drug in ("citalopram", "escitalopram", "sertraline"):
        assert by_drug[drug].action.value == "no_genotype"
        assert by_drug[drug].phenotypes["CYP2C19"] == "no genotype"
        assert by_drug[drug].strength is None
    assert by_drug["paroxetine"].action.value == "standard"
    only_c19 = {r.drug: r for r in recommend(parse_genotype_options(["CYP2C19=*1/*1"]))}
    for drug in ("paroxetine", "fluvoxamine", "venlafaxine", "vortioxetine", "nortriptyline"):
        assert only_c19[drug].action.value == "no_genotype"


def test_sertraline_reports_cyp2b6_as_not_genotyped():
    result = guidance_for("sertraline", CYP2C19="NM")
    assert result.phenotypes == {"CYP2C19": "Normal Metabolizer", "CYP2B6": "no genotype"}
    assert result.missing_genes == ("CYP2B6",) and "CYP2B6" in result.recommendation


def test_catalog_drugs_no_guideline_covers_say_no_guidance_plainly():
    results = recommend(parse_genotype_options(["CYP2D6=*4/*4", "CYP2C19=*2/*2"]))
    plain = {r.drug: r for r in results if r.action.value == "no_guidance"}
    for drug in (
        "fluoxetine",
        "duloxetine",
        "desvenlafaxine",
        "bupropion",
        "mirtazapine",
        "trazodone",
        "aripiprazole",
        "quetiapine",
    ):
        assert plain[drug].strength is None and plain[drug].source == "none"
        assert "genotype-based" in plain[drug].recommendation
    assert len(results) == 21  # the whole catalog


@pytest.mark.parametrize(
    ("option", "drug"),
    [
        ("CYP2D6=*1/*999", "paroxetine"),
        ("CYP2D6=*4/*1xN", "nortriptyline"),
        ("CYP2C19=*1/*12", "citalopram"),
        ("CYP2D6=*1/*22", "amitriptyline"),
    ],
)
def test_indeterminate_phenotype_gives_no_recommendation(option, drug):
    (result,) = recommend(
        parse_genotype_options([option, "CYP2C19=*1/*1"] if "CYP2C19" not in option else [option]),
        drugs=[drug],
    )
    assert result.action.value == "indeterminate" and result.strength is None
    assert "no recommendation" in result.recommendation


def test_copy_number_ultrarapid_guidance():
    result = guidance_for("nortriptyline", CYP2D6="UM")
    assert result.activity_scores == {"CYP2D6": 3.0}
    (xn,) = recommend(parse_genotype_options(["CYP2D6=*1/*2xN"]), drugs=["nortriptyline"])
    assert xn.action.value == "avoid" and xn.activity_scores == {"CYP2D6": "≥3.0"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["CYP2D7=*1/*1"], "unknown gene 'CYP2D7'"),
        (["CYP2B6=*1/*6"], "CYP2B6 is not genotyped"),
        (["CYP2D6=4/4"], "malformed CYP2D6 star allele '4'"),
        (["CYP2D6="], "malformed CYP2D6 diplotype ''"),
        (["CYP2D6=*1"], "malformed CYP2D6 diplotype"),
        (["CYP2D6"], "expected GENE=DIPLOTYPE"),
        (["CYP2D6=*1/*1", "cyp2d6=*1/*2"], "names CYP2D6 twice"),
    ],
)
def test_bad_genotype_input_is_a_validation_error(options, message):
    with pytest.raises(ValidationError, match=message):
        parse_genotype_options(options)


def test_unknown_drug_and_condition_are_named():
    diplotypes = parse_genotype_options(["CYP2D6=*1/*1"])
    with pytest.raises(NotFoundError, match="not in the medication catalog: aspirin"):
        recommend(diplotypes, drugs=["aspirin"])
    with pytest.raises(ValidationError, match="unknown condition 'OCD'"):
        recommend(diplotypes, condition="OCD")
    mdd = {r.drug for r in recommend(diplotypes, condition="mdd")}
    assert "sertraline" in mdd and "clomipramine" not in mdd and "quetiapine" in mdd


def test_translation_reports_why_a_phenotype_is_indeterminate():
    (d6,) = translate(parse_genotype_options(["CYP2D6=*1/*999"]))
    assert "*999 is not in CPIC's CYP2D6 allele table" in d6.reason


def test_citalopram_poor_metabolizer_carries_cpics_fda_maximum_dose_comment():
    for c19 in ("PM", "LPM"):
        result = guidance_for("citalopram", CYP2C19=c19)
        assert "citalopram 20 mg/day is the maximum recommended dose" in result.recommendation
    assert "20 mg/day" not in guidance_for("escitalopram", CYP2C19="PM").recommendation
