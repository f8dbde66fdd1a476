"""Register models in the MLflow registry, with gate results as tags and aliases."""

from __future__ import annotations

import json
from pathlib import Path

from novamind_core.infrastructure.registry.tracking import code_version, configure

CHALLENGER, CHAMPION = "challenger", "champion"


def register_symptom_forecaster(
    bundle_dir: Path,
    evaluation: dict,
    gate_results: dict[str, bool],
    dataset: dict[str, str],
    parent_run_id: str,
    charts_dir: Path | None = None,
    model_name: str = "symptom-forecaster",
    reference_dir: Path | None = None,
) -> dict:
    """Log the pyfunc model, register a version, tag it; alias ``challenger`` if gates pass."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.forecasting.bundle import ForecasterBundle
    from novamind_core.infrastructure.forecasting.pyfunc_model import (
        SymptomForecasterModel,
        input_example,
    )

    configure()
    bundle = ForecasterBundle.load(bundle_dir)
    example = input_example(bundle.fill_values, bundle.spec.context_days)
    signature = infer_signature(example, bundle.forecast_history(example))
    with mlflow.start_run(run_name="register", parent_run_id=parent_run_id or None):
        mlflow.log_dict(evaluation, "evaluation.json")
        if charts_dir is not None and charts_dir.exists():
            mlflow.log_artifacts(str(charts_dir), "fan_charts")
        if reference_dir is not None and reference_dir.exists():
            mlflow.log_artifacts(str(reference_dir), "drift_reference")  # encrypted
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=SymptomForecasterModel(),
            artifacts={"bundle": str(bundle_dir)},
            signature=signature,
            input_example=example,
            registered_model_name=model_name,
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    try:
        return _tag_and_alias(
            client, model_name, version, bundle, evaluation, gate_results, dataset
        )
    except BaseException:
        client.delete_model_version(model_name, version)  # no half-registered version
        raise


def _tag_and_alias(client, model_name, version, bundle, evaluation, gate_results, dataset):
    passed = all(gate_results.values())
    tags = {
        "dataset_version": dataset.get("version", ""),
        "dataset_fingerprint": dataset.get("fingerprint", ""),
        "code_version": code_version(),
        "target": bundle.spec.target,
        "horizon": str(bundle.spec.horizon),
        "gates_passed": str(passed).lower(),
        "metrics": json.dumps(summary_metrics(evaluation)),
        **{f"gate.{k}": str(v).lower() for k, v in gate_results.items()},
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    if passed:
        client.set_registered_model_alias(model_name, CHALLENGER, version)
    return {
        "model_name": model_name,
        "version": version,
        "challenger": passed,
        "model_uri": f"models:/{model_name}/{version}",
    }


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


def load_alias(model_name: str, alias: str):
    """The bundle behind ``models:/<name>@<alias>``, or None when the alias is unset."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    configure()
    try:
        version = MlflowClient().get_model_version_by_alias(model_name, alias).version
    except MlflowException:
        return None
    # load exactly the version just read: the alias may move between two look-ups
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return model.unwrap_python_model().bundle
