import pytest

from novamind_core.domain.pharmacogenomics import Diplotype, Gene, Phenotype, StarAllele


def diplotype(gene: Gene, text: str) -> Diplotype:
    a, b = text.split("/")
    return Diplotype(StarAllele.parse(gene, a), StarAllele.parse(gene, b))


@pytest.mark.parametrize(
    ("text", "score", "phenotype"),
    [
        ("*1/*1", 2.0, Phenotype.NORMAL),
        ("*1/*41", 1.5, Phenotype.NORMAL),
        ("*1/*4", 1.0, Phenotype.INTERMEDIATE),
        ("*41/*41", 1.0, Phenotype.INTERMEDIATE),
        ("*10/*10", 0.5, Phenotype.INTERMEDIATE),
        ("*4/*10", 0.25, Phenotype.INTERMEDIATE),
        ("*4/*5", 0.0, Phenotype.POOR),
        ("*4x2/*4", 0.0, Phenotype.POOR),
        ("*1x2/*1", 3.0, Phenotype.ULTRARAPID),
        ("*2x2/*41", 2.5, Phenotype.ULTRARAPID),
        ("*1x2/*4", 2.0, Phenotype.NORMAL),
    ],
)
def test_cyp2d6_activity_score_and_phenotype_follow_cpic(text, score, phenotype):
    d = diplotype(Gene.CYP2D6, text)
    assert d.activity_score() == score
    assert d.phenotype() is phenotype


@pytest.mark.parametrize(
    ("text", "phenotype"),
    [
        ("*1/*1", Phenotype.NORMAL),
        ("*1/*17", Phenotype.RAPID),
        ("*17/*17", Phenotype.ULTRARAPID),
        ("*1/*2", Phenotype.INTERMEDIATE),
        ("*2/*17", Phenotype.INTERMEDIATE),
        ("*2/*3", Phenotype.POOR),
    ],
)
def test_cyp2c19_phenotype_follows_cpic(text, phenotype):
    assert diplotype(Gene.CYP2C19, text).phenotype() is phenotype


def test_unknown_cyp2d6_allele_is_rejected():
    with pytest.raises(ValueError, match="unknown CYP2D6 star allele"):
        StarAllele.parse(Gene.CYP2D6, "*999")  # *99 is a CPIC-listed no-function allele


@pytest.mark.parametrize("text", ["1", "*4x", "*1x2x2", "", "4"])
def test_malformed_cyp2d6_allele_is_rejected(text):
    with pytest.raises(ValueError, match="malformed CYP2D6 star allele"):
        StarAllele.parse(Gene.CYP2D6, text)


def test_copy_number_is_only_for_cyp2d6():
    with pytest.raises(ValueError, match="copy number"):
        StarAllele.parse(Gene.CYP2C19, "*17x2")
