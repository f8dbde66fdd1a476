"""``novamind models``: the registered models, their versions, aliases and gates."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.errors import NotFoundError

app = typer.Typer(help="Inspect registered models.", no_args_is_help=True)
MODELS = ("symptom-forecaster", "biometric-correlator", "medication-response")


@app.command("list")
@handles_errors
def list_models(
    name: str = typer.Option(None, help="Only this registered model."),
) -> None:
    """Versions with their aliases, dataset, gate results and headline metrics."""
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.registry.tracking import configure

    configure()
    client = MlflowClient()
    names = [name] if name else [m.name for m in client.search_registered_models()]
    if not names:
        raise NotFoundError(
            "no model is registered yet: run `novamind pipeline run symptom-forecasting`"
        )
    table = Table(
        "model", "version", "aliases", "dataset", "gates", "test MASE", "naive MASE", "coverage"
    )
    for model in names:
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(model).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        for v in sorted(
            client.search_model_versions(f"name='{model}'"), key=lambda v: int(v.version)
        ):
            metrics = json.loads(v.tags.get("metrics", "{}"))
            failed = [
                k.removeprefix("gate.")
                for k, val in v.tags.items()
                if k.startswith("gate.") and val != "true"
            ]
            table.add_row(
                model,
                str(v.version),
                ", ".join(sorted(aliases.get(str(v.version), []))) or "-",
                v.tags.get("dataset_version", "-"),
                "passed" if not failed else "failed: " + ", ".join(failed),
                f"{metrics.get('test.ensemble.mase', float('nan')):.3f}",
                f"{metrics.get('test.seasonal_naive.mase', float('nan')):.3f}",
                f"{metrics.get('test.ensemble.coverage', float('nan')):.2f}",
            )
    console.print(table)
