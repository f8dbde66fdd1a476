"""Component: start a model's training pipeline (run it locally, or submit it to KFP)."""

from kfp import dsl

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def trigger_retraining(
    model: str, pipeline: str, drift_status: str, mode: str, kfp_host: str, training_params: str
) -> str:
    """Retrain ``model`` with ``pipeline`` (empty: its family's training pipeline) through
    the `novamind` command: ``mode`` "local" runs it on the KFP local runner in a child
    process, "cluster" submits it to the Kubeflow Pipelines API at ``kfp_host`` (empty:
    the in-cluster default). ``training_params`` is a JSON object of its parameters."""
    import json
    import os
    import subprocess
    import sys

    from novamind_core.families import family_of

    pipeline = pipeline or family_of(model).training_pipeline.name
    params = json.loads(training_params) if training_params else {}
    if not isinstance(params, dict):
        raise ValueError(f"training_params must be a JSON object, got {training_params!r}")
    if mode not in ("local", "cluster"):
        raise ValueError(f"mode must be 'local' or 'cluster', got {mode!r}")
    print(f"drift check verdict: {drift_status}; retraining {model} with {pipeline} ({mode})")
    command = "run" if mode == "local" else "submit"
    args = [sys.executable, "-m", "novamind_core.cli", "pipeline", command, pipeline]
    if mode == "cluster":
        args += ["--host", kfp_host, "--experiment", "novamind-retraining"]
    for key, value in params.items():
        args += ["--param", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    # a fresh CLI process, not the component runtime (_KFP_RUNTIME trims kfp.dsl)
    env = {k: v for k, v in os.environ.items() if k != "_KFP_RUNTIME"}
    subprocess.run(args, check=True, env=env)
    return f"{pipeline}: {'local run finished' if mode == 'local' else 'submitted'}"
