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


def _ranking_model(version: str | None):
    """(predictor, version): the approved champion, or a named version (a reviewer's
    look at a challenger before approving it)."""
    from novamind_core.families.pharmacogenomics.family import MODEL_NAME
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.serving.champion import champion_loader

    if version is None:
        predictor, served = champion_loader(
            MODEL_NAME, lambda model: model.predictor, composition.approvals()
        )(None)
        if predictor is None:
            raise ValidationError(
                f"{MODEL_NAME} has no champion yet: run `novamind pipeline run "
                "pharmacogenomics`, then approve its challenger (or pass --version)"
            )
        return predictor, served
    import mlflow

    from novamind_core.domain.errors import NotFoundError
    from novamind_core.infrastructure.registry.tracking import configure

    configure()
    uri = (
        f"models:/{MODEL_NAME}@{version}"
        if not version.isdigit()
        else (f"models:/{MODEL_NAME}/{version}")
    )
    try:
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except mlflow.exceptions.MlflowException:
        raise NotFoundError(f"no {MODEL_NAME} version or alias {version!r}") from None
    return model.predictor, version


@app.command()
@handles_errors
def rank(
    patient: str = typer.Option(..., help="A stored patient's pseudonym (an audited read)."),
    condition: str = typer.Option(
        None, help="MDD, GAD, PTSD, BIPOLAR or MIXED (default: the patient's diagnosis)."
    ),
    drug: list[str] = typer.Option(None, "--drug", help="Rank only these drugs (repeatable)."),
    version: str = typer.Option(
        None, help="A registry version or alias (default: the approved champion)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Candidate drugs for a stored patient, ranked by the medication-response model's
    predicted benefit with CPIC's actions on top (an avoid is never first, and flagged)."""
    from novamind_core.domain.patients import PatientPseudonym
    from novamind_core.families.pharmacogenomics.history import case_source
    from novamind_core.families.pharmacogenomics.ranking import rank as rank_drugs
    from novamind_core.infrastructure import composition

    try:
        key = PatientPseudonym(patient.strip()).value
    except ValueError:
        raise ValidationError(
            "--patient takes a pseudonym ('p_' + 24 hex digits), never a raw identifier"
        ) from None
    predictor, served = _ranking_model(version)
    case = case_source(composition.dataset_store(), composition.audit_trail())(key)
    if case is None:
        from novamind_core.domain.errors import NotFoundError

        raise NotFoundError(f"no stored patient {key} in the latest dataset version")
    ranked = rank_drugs(predictor, case, condition, drug or None)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in ranked]))
        return
    model = "genotype-blind model (no genotype stored)" if not case.genotyped else "GNN"
    table = Table(
        "#",
        "drug",
        "efficacy",
        "side-effect risk",
        "confidence",
        "percentile",
        "metabolizer status",
        "CPIC",
        "recommendation",
        title=f"medication-response v{served} ({model}) for {key}",
        show_lines=True,
    )
    for r in ranked:
        action = "⚠ AVOID" if r.flagged else r.cpic_action.replace("_", " ")
        if r.dose_adjustment_percent is not None:
            action += f" ({r.dose_adjustment_percent:+d}%)"
        table.add_row(
            str(r.rank),
            r.drug,
            f"{r.efficacy_score:.2f}",
            f"{r.side_effect_risk:.2f}",
            f"{r.confidence:.2f}",
            "-" if r.percentile is None else f"{r.percentile:.0f}",
            r.metabolizer_status,
            f"[{STYLE.get(r.cpic_action, '')}]{action}[/]" if r.cpic_action in STYLE else action,
            r.recommendation,
        )
    console.print(table)
    console.print(
        "efficacy = predicted probability of response; side-effect risk = predicted "
        "probability of a side effect; ranked by efficacy − 0.5 × risk within CPIC's tiers. "
        + DISCLAIMER
    )
