"""Register a trained forecaster: its pyfunc, tags and headline metrics, through the
platform's generic registration (gates, aliases, dataset, code version)."""

from __future__ import annotations

from pathlib import Path

from novamind_core.families.forecasting.family import MODEL_NAME
from novamind_core.infrastructure.kfp.artifacts import read_json


def summary_metrics(evaluation: dict) -> dict[str, float]:
    """Mean over horizons of the ensemble's and seasonal naive's metrics per window set."""
    out = {}
    for part, result in evaluation.items():
        for model in ("ensemble", "seasonal_naive", "auto_ets"):
            metrics = result["models"].get(model)
            if not metrics:
                continue
            for name in ("mase", "coverage", "width"):
                if name in metrics:
                    values = [v for v in metrics[name] if v == v]
                    out[f"{part}.{model}.{name}"] = round(sum(values) / len(values), 4)
    return out


def register_forecaster(
    bundle_dir: Path,
    evaluation: dict,
    gate_results: dict[str, bool],
    dataset: dict[str, str],
    parent_run_id: str,
    charts_dir: Path | None = None,
    reference_dir: Path | None = None,
    model_name: str = MODEL_NAME,
    trained_by: str = "",
) -> dict:
    """Log the bundle as an MLflow pyfunc model and register it (see ``register_model``)."""
    from novamind_core.families.forecasting.bundle import ForecasterBundle
    from novamind_core.families.forecasting.pyfunc import ForecasterPyfunc, input_example
    from novamind_core.infrastructure.registry.model_registry import register_model

    bundle = ForecasterBundle.load(bundle_dir)
    example = input_example(bundle.fill_values, bundle.spec.context_days)
    return register_model(
        model_name,
        ForecasterPyfunc(),
        {"bundle": str(bundle_dir)},
        example,
        bundle.forecast_history(example),
        evaluation,
        gate_results,
        dataset,
        parent_run_id,
        tags={"target": bundle.spec.target, "horizon": str(bundle.spec.horizon)},
        summary=summary_metrics(evaluation),
        artifact_dirs={"fan_charts": charts_dir},
        trained_by=trained_by,
        reference_dir=reference_dir,
    )


def register_step(
    bundle: Path,
    evaluation: Path,
    charts: Path,
    reference: Path,
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str = "",
) -> dict:
    """The pipeline's last step: register what the earlier steps made, and who launched
    the run (a reviewer may not approve their own)."""
    data = read_json(evaluation)
    return register_forecaster(
        bundle,
        data["evaluation"],
        data["gates"],
        {"version": dataset_version, "fingerprint": dataset_fingerprint},
        parent_run_id,
        charts,
        reference,
        trained_by=launched_by,
    )
