"""``novamind deploy``: the KServe InferenceService of a champion, rendered or applied."""

from __future__ import annotations

from pathlib import Path

import typer

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.errors import ValidationError

app = typer.Typer(help="Render and apply KServe deployment manifests.", no_args_is_help=True)
IMAGE = typer.Option(
    None,
    help="Predictor image (default: $NOVAMIND_COMPONENT_IMAGE or novamind/digital-twin:0.1.0).",
)


def _render(name: str, image: str | None) -> str:
    from components.image import BASE_IMAGE
    from novamind_core.families import family_of
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.deployment.manifests import render_validated

    family_of(name)  # a model the platform serves
    return render_validated(composition.model_registry(), name, image or BASE_IMAGE)


@app.command()
@handles_errors
def render(
    name: str = typer.Argument(..., help="Registered model name."),
    out: Path = typer.Option(None, help="Write here (default: manifests/rendered/NAME.yaml)."),
    image: str = IMAGE,
) -> None:
    """Write the validated InferenceService for the current champion."""
    from novamind_core.infrastructure.deployment.manifests import MANIFESTS

    target = out or MANIFESTS / "rendered" / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_render(name, image))
    console.print(f"wrote {target} (validated against the Kubernetes and KServe schemas)")


@app.command()
@handles_errors
def apply(
    name: str = typer.Argument(..., help="Registered model name."),
    image: str = IMAGE,
) -> None:
    """Apply the champion's InferenceService to the configured cluster (KServe client)."""
    from novamind_core.infrastructure.deployment.manifests import apply_manifest

    for applied in apply_manifest(_render(name, image)):
        console.print(f"applied InferenceService {applied}")


@app.command()
@handles_errors
def validate(paths: list[Path] = typer.Argument(..., help="YAML files to check.")) -> None:
    """Validate manifests against the Kubernetes and KServe schemas."""
    from novamind_core.infrastructure.deployment.manifests import validate_documents

    problems = [f"{p}: {issue}" for p in paths for issue in validate_documents(p.read_text())]
    if problems:
        raise ValidationError("invalid manifests:\n  " + "\n  ".join(problems))
    console.print(f"[green]valid[/]: {len(paths)} file(s)")
