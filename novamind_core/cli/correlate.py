"""`novamind correlate`: which wearable signals move with which symptoms, at which lag."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from novamind_core.cli.common import console, handles_errors

LIMIT_HELP = "Show at most this many significant relations (the file holds every test)."


def _relations(analysis, limit: int) -> Table:
    from novamind_core.families.biometric.output import format_q

    found = analysis.significant()
    level = round(analysis.settings.confidence * 100)
    table = Table(
        "biometric",
        "symptom",
        "lag (days)",
        "r",
        f"{level}% CI",
        "q",
        "pairs",
        "n_eff",
        "relevant",
        title=f"significant relations (q ≤ {analysis.settings.fdr:g}), strongest first",
    )
    for row in found.head(limit).itertuples():
        table.add_row(
            row.biometric,
            row.symptom,
            str(row.lag_days),
            f"{row.coefficient:+.3f}",
            f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]",
            format_q(row.q_value),
            str(row.n_pairs),
            f"{row.n_effective:,.0f}",
            "yes" if row.clinically_relevant else "",
        )
    return table


def _edges(analysis) -> Table:
    from novamind_core.families.biometric.output import format_q

    table = Table(
        "biometric",
        "→ symptom",
        "lag (days)",
        "relation",
        "strength",
        "q",
        "rows",
        title="directed relations (Granger-style, given the symptom's own past)",
    )
    for row in analysis.directed.edges.itertuples():
        table.add_row(
            row.biometric,
            row.symptom,
            str(row.lag_days),
            row.relation,
            f"{row.strength:+.3f}",
            format_q(row.q_value),
            str(row.n_obs),
        )
    return table


@handles_errors
def correlate(
    dataset: str = typer.Option("latest", "--dataset", help="Dataset version, or 'latest'."),
    patient: str = typer.Option(
        None, "--patient", help="One patient's pseudonym (p_…); default: the whole cohort."
    ),
    max_lag: int = typer.Option(7, "--max-lag", help="Longest lead tested, 0–28 days."),
    method: str = typer.Option("pearson", "--method", help="pearson or spearman."),
    fdr: float = typer.Option(0.05, "--fdr", help="False discovery rate for significance."),
    out: Path = typer.Option(
        None, "--out", help="Write every test to FILE.csv, or the whole analysis to FILE.json."
    ),
    limit: int = typer.Option(20, "--limit", help=LIMIT_HELP),
) -> None:
    """Lead–lag correlations of biometrics and symptoms from the encrypted store (an
    audited read): effect sizes with intervals, autocorrelation-aware p-values, FDR
    q-values, the exclusions, and the directed relations."""
    from novamind_core.domain.errors import ValidationError
    from novamind_core.domain.patients import PatientPseudonym
    from novamind_core.families.biometric.analysis import correlate as analyse
    from novamind_core.families.biometric.cohort_data import stored_grid
    from novamind_core.families.biometric.engine import EngineSettings
    from novamind_core.families.biometric.output import write
    from novamind_core.infrastructure import composition

    if patient is not None:
        try:
            PatientPseudonym(patient)
        except ValueError:
            raise ValidationError(
                "--patient takes a pseudonym ('p_' + 24 hex digits), never a raw identifier"
            ) from None
    settings = EngineSettings(
        max_lag=max_lag,
        method=method,
        fdr=fdr,
        threshold=composition.settings().correlation_threshold,
    )
    if out is not None and out.suffix.lower() not in {".csv", ".json"}:
        raise ValidationError(f"--out must end in .csv or .json, got {out.name!r}")
    store = composition.dataset_store()
    audit = composition.audit_trail()
    scope = "one patient" if patient else "cohort"
    version, aligned = stored_grid(store, dataset, audit, f"correlate biometrics ({scope})")
    if patient is not None:
        audit.record("read", f"{version}/patient", purpose="correlate biometrics", patient=patient)
    analysis = analyse(aligned, settings, patient)
    console.print(
        f"dataset {version}: {analysis.patients} patient(s) analysed, {len(analysis.tests)} "
        f"tests ({settings.method}, lags 0–{settings.max_lag}), "
        f"{int(analysis.tests['significant'].sum())} significant at FDR {settings.fdr:g}; "
        f"clinically relevant: |r| ≥ {settings.threshold:g}"
    )
    console.print(_relations(analysis, limit))
    if analysis.exclusions:
        excluded = Table("left out", "why", "count", "detail", title="exclusions")
        for e in analysis.exclusions:
            excluded.add_row(e.scope, e.reason, str(e.count), e.detail)
        console.print(excluded)
    console.print(_edges(analysis))
    if out is not None:
        console.print(f"wrote {write(analysis, out, version)}")
