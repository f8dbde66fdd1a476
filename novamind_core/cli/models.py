"""``novamind models``: the registered models, their versions, aliases and gates."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.errors import NotFoundError

app = typer.Typer(help="Inspect registered models.", no_args_is_help=True)


@app.command("list")
@handles_errors
def list_models(
    name: str = typer.Option(None, help="Only this registered model."),
) -> None:
    """Versions with their aliases, dataset, gate results and each family's headline figures."""
    from novamind_core.families import family_of
    from novamind_core.infrastructure import composition

    registry = composition.model_registry()
    approvals = _approval_checker()
    names = [name] if name else registry.names()
    if not names:
        raise NotFoundError(
            "no model is registered yet: run a training pipeline (`novamind pipeline run NAME`)"
        )
    for model in names:
        try:
            columns = family_of(model).headline_metrics
        except NotFoundError:
            columns = ()  # registered by hand, outside the platform's families
        table = Table(
            "version", "aliases", "dataset", "gates", *(c.header for c in columns), title=model
        )
        for v in registry.versions(model):
            metrics = json.loads(v.tags.get("metrics", "{}"))
            table.add_row(
                v.version,
                _aliases(v, approvals),
                v.tags.get("dataset_version", "-"),
                "passed" if not v.failed_gates else "failed: " + ", ".join(v.failed_gates),
                *(c.render(metrics) for c in columns),
            )
        console.print(table)


def _approval_checker():
    """The approval verifier, or None when NOVAMIND_APPROVAL_PUBLIC_KEY is not set."""
    from novamind_core.domain.errors import ConfigurationError
    from novamind_core.infrastructure import composition

    try:
        return composition.approvals()
    except ConfigurationError:
        return None


def _aliases(version, approvals) -> str:
    """The version's aliases; a champion without a verified approval says so."""
    from novamind_core.domain.model_registry import CHAMPION
    from novamind_core.infrastructure.registry.approvals import UnapprovedVersion

    shown = []
    for alias in version.aliases:
        if alias == CHAMPION and approvals is None:
            alias += " (approval not checked: no NOVAMIND_APPROVAL_PUBLIC_KEY)"
        elif alias == CHAMPION:
            try:
                approvals.verified_record(version.name, version.version, version.tags)
            except UnapprovedVersion as exc:
                alias += f" [red](UNAPPROVED: {exc.reason}; not served)[/]"
        shown.append(alias)
    return ", ".join(shown) or "-"


def _principal(token: str | None):
    """The caller, from --token or NOVAMIND_TOKEN (see `novamind token`)."""
    import os

    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.security.tokens import token_service

    return token_service(composition.settings()).verify(
        token or os.environ.get("NOVAMIND_TOKEN", "")
    )


def _reviewer(token: str | None, reviewer: str):
    from novamind_core.domain.errors import AuthorizationError

    principal = _principal(token)
    if principal.subject != reviewer:
        raise AuthorizationError(
            f"the token speaks for {principal.subject!r}, not for --reviewer {reviewer!r}"
        )
    return principal


def _workflow():
    from novamind_core.infrastructure import composition

    return composition.model_registry(), composition.audit_trail()


TOKEN = typer.Option(None, "--token", help="Bearer token (default: $NOVAMIND_TOKEN).")


@app.command()
@handles_errors
def approve(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(
        ..., help="Version to make the champion (a number, or 'challenger')."
    ),
    reviewer: str = typer.Option(..., help="Who decides (must match the token's subject)."),
    note: str = typer.Option("", help="Why, for the record."),
    override: bool = typer.Option(False, help="Approve although a gate failed."),
    reason: str = typer.Option("", help="Required with --override."),
    self_approval: str = typer.Option(
        "",
        "--self-approval",
        help="Why you approve a version whose training you launched (one-person setups; audited).",
    ),
    token: str = TOKEN,
) -> None:
    """Approve a version: it becomes the champion that clients get.

    Signs an approval of the version's exact files with the reviewers' key
    (NOVAMIND_APPROVAL_SIGNING_KEY_FILE); servers load only versions whose approval
    verifies."""
    from novamind_core.application.promote_model import approve as approve_version
    from novamind_core.domain.model_registry import CHALLENGER
    from novamind_core.infrastructure import composition

    registry, audit = _workflow()
    if version == CHALLENGER:
        challenger = registry.alias(name, CHALLENGER)
        if challenger is None:
            raise NotFoundError(
                f"{name} has no challenger (no version passed its gates); review the versions "
                "with `novamind models list` and approve one by number"
            )
        version = challenger.version
    principal = _reviewer(token, reviewer)
    previous = approve_version(
        registry,
        audit,
        principal,
        name,
        version,
        note,
        override,
        reason,
        approvals=composition.approvals(signing=True),
        self_approval=self_approval,
    )
    console.print(
        f"[green]{name} version {version} is now the champion[/]"
        + (f" (replacing version {previous})" if previous else "")
    )
    _announce(name, version, "approve")


@app.command()
@handles_errors
def reject(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(..., help="Version to reject."),
    reviewer: str = typer.Option(..., help="Who decides (must match the token's subject)."),
    note: str = typer.Option(..., help="Why, for the record."),
    token: str = TOKEN,
) -> None:
    """Reject a version; a rejected challenger loses its alias."""
    from novamind_core.application.promote_model import reject as reject_version

    registry, audit = _workflow()
    reject_version(registry, audit, _reviewer(token, reviewer), name, version, note)
    console.print(f"{name} version {version} rejected")


@app.command()
@handles_errors
def reopen(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(..., help="The rejected version to review again."),
    reviewer: str = typer.Option(..., help="Who decides (must match the token's subject)."),
    note: str = typer.Option(..., help="Why it deserves a new review."),
    token: str = TOKEN,
) -> None:
    """Open a new review of a rejected version (only then can it be approved)."""
    from novamind_core.application.promote_model import reopen as reopen_version

    registry, audit = _workflow()
    reopen_version(registry, audit, _reviewer(token, reviewer), name, version, note)
    console.print(f"{name} version {version} reopened for review")


@app.command()
@handles_errors
def rollback(
    name: str = typer.Argument(..., help="Registered model name."),
    reviewer: str = typer.Option(..., help="Who decides (must match the token's subject)."),
    note: str = typer.Option("", help="Why, for the record."),
    token: str = TOKEN,
) -> None:
    """Move the champion back to the version it replaced."""
    from novamind_core.application.promote_model import rollback as rollback_version

    registry, audit = _workflow()
    restored = rollback_version(registry, audit, _reviewer(token, reviewer), name, note)
    console.print(f"{name}: champion rolled back to version {restored}")
    _announce(name, restored, "rollback")


def _announce(name: str, version: str, action: str) -> None:
    """Tell the event bus (when one is configured) that the champion moved."""
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.events import announce

    if announce.promotion(composition.settings(), name, version, action):
        console.print(f"announced on the event bus: {name} {action} {version}")


@app.command()
@handles_errors
def review(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(
        None, help="Version to review, or 'latest' (default: the challenger)."
    ),
    html: Path = typer.Option(None, help="Also write a self-contained HTML page here."),
) -> None:
    """The challenger beside the champion: its family's figures and tables, gates, plots."""
    from novamind_core.application.review_model import build_review
    from novamind_core.families import family_of
    from novamind_core.infrastructure.family_descriptor import load
    from novamind_core.infrastructure.registry.review_artifacts import MlflowReviewArtifacts
    from novamind_core.infrastructure.reporting.review_page import render_review_html

    content = load(family_of(name).review_content)
    registry, _ = _workflow()
    review_data = build_review(registry, MlflowReviewArtifacts(registry), content, name, version)
    _print_review(review_data)
    if html is not None:
        html.write_text(render_review_html(review_data), encoding="utf-8")
        console.print(f"review page: {html}")


def _print_review(r) -> None:
    head = Table(
        title=f"{r.name}: challenger {r.candidate.version} vs champion "
        f"{r.champion.version if r.champion else '(none)'}"
    )
    head.add_column("")
    head.add_column("challenger")
    head.add_column("champion")
    for label, ours, theirs in r.summary_rows():
        head.add_row(label, ours, theirs)
    console.print(head)
    for part in r.tables():
        table = Table(*part.headers, title=part.title)
        for row in part.rows:
            table.add_row(*row)
        console.print(table)
