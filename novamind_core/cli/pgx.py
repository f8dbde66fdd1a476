"""``novamind pgx``: CPIC dosing guidance from CYP2D6 and CYP2C19 genotypes."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.errors import ValidationError

app = typer.Typer(
    help="Pharmacogenomic dosing guidance (CPIC): genotype → phenotype → recommendation. "
    "It supports, never replaces, a clinician's decision.",
    no_args_is_help=True,
)

GENOTYPE_HELP = "GENE=DIPLOTYPE, e.g. CYP2D6='*4/*10'; repeat for CYP2C19."
PATIENT_HELP = "Read the genotype of a stored patient by pseudonym (an audited read)."
# Drugs with no genetic concern first; every avoid last, flagged.
ORDER = ("standard", "no_guidance", "no_genotype", "indeterminate", "increase", "reduce", "avoid")
STYLE = {"avoid": "bold red", "reduce": "yellow", "increase": "yellow", "standard": "green"}
DISCLAIMER = (
    "CPIC guidance supports, never replaces, a clinician's decision: it covers CYP2D6 and "
    "CYP2C19 only, not interactions, other genes or clinical factors."
)


def _diplotypes(genotype: list[str] | None, patient: str | None):
    from novamind_core.families.pharmacogenomics.guidance import parse_genotype_options

    if genotype and patient:
        raise ValidationError("give --genotype or --patient, not both")
    if patient:
        from novamind_core.families.pharmacogenomics.stored_genotype import stored_genotype
        from novamind_core.infrastructure import composition

        version, diplotypes = stored_genotype(
            composition.dataset_store(), composition.audit_trail(), patient
        )
        return f"stored patient {patient.strip()} (dataset {version})", diplotypes
    if not genotype:
        raise ValidationError(
            "no genotype: give --genotype GENE=DIPLOTYPE (e.g. CYP2D6='*1/*4') or "
            "--patient PSEUDONYM"
        )
    return "given genotype", parse_genotype_options(genotype)


@app.command()
@handles_errors
def phenotype(
    genotype: list[str] = typer.Option(None, "--genotype", "-g", help=GENOTYPE_HELP),
    patient: str = typer.Option(None, help=PATIENT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Translate diplotypes into activity scores and CPIC metabolizer phenotypes."""
    from novamind_core.families.pharmacogenomics.guidance import translate

    origin, diplotypes = _diplotypes(genotype, patient)
    results = translate(diplotypes)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    table = Table("gene", "diplotype", "activity score", "phenotype", "note", title=origin)
    for r in results:
        score = r.activity_score
        table.add_row(
            r.gene,
            r.diplotype,
            "-" if score is None else str(score),
            r.phenotype.cpic_name,
            r.reason,
        )
    console.print(table)


@app.command()
@handles_errors
def recommend(
    genotype: list[str] = typer.Option(None, "--genotype", "-g", help=GENOTYPE_HELP),
    patient: str = typer.Option(None, help=PATIENT_HELP),
    drug: list[str] = typer.Option(None, "--drug", help="Only this catalog drug (repeatable)."),
    condition: str = typer.Option(
        None, help="Only drugs labeled for this diagnosis: MDD, GAD, PTSD, BIPOLAR, MIXED."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """CPIC guidance per catalog drug: phenotypes, action, dose adjustment, CPIC's words,
    strength and source."""
    from novamind_core.families.pharmacogenomics.guidance import recommend as guidance

    origin, diplotypes = _diplotypes(genotype, patient)
    results = guidance(diplotypes, drug, condition)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    results.sort(key=lambda r: ORDER.index(r.action.value))
    table = Table(
        "drug",
        "phenotypes",
        "action",
        "dose",
        "recommendation",
        "strength",
        "source",
        title=f"CPIC guidance for the {origin}",
        show_lines=True,
    )
    for r in results:
        phenotypes = "\n".join(
            f"{g}: {p}" + (f" (AS {r.activity_scores[g]})" if g in r.activity_scores else "")
            for g, p in r.phenotypes.items()
        )
        action = r.action.value.replace("_", " ")
        if r.action.value == "avoid":
            action = "⚠ AVOID"
        dose = "-" if r.dose_adjustment_percent is None else f"{r.dose_adjustment_percent:+d}%"
        table.add_row(
            r.drug,
            phenotypes or "-",
            f"[{STYLE.get(r.action.value, '')}]{action}[/]" if r.action.value in STYLE else action,
            dose,
            r.recommendation,
            r.strength or "-",
            r.guideline or "none",
        )
    console.print(table)
    avoid = [r.drug for r in results if r.action.value == "avoid"]
    if avoid:
        console.print(f"[bold red]avoid (choose an alternative):[/] {', '.join(avoid)}")
    console.print(DISCLAIMER)
