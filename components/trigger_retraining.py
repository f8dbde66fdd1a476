"""Component: start the symptom-forecasting pipeline (run locally, or submit to KFP)."""

from kfp import dsl

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def trigger_retraining(drift_status: str, mode: str, kfp_host: str, training_params: str) -> str:
    """``mode`` "local" runs the training pipeline on the KFP local runner in a child
    process; "cluster" submits it to the Kubeflow Pipelines API at ``kfp_host`` (empty:
    the in-cluster default). ``training_params`` is a JSON object of pipeline parameters."""
    import json
    import os
    import subprocess
    import sys

    params = json.loads(training_params) if training_params else {}
    if not isinstance(params, dict):
        raise ValueError(f"training_params must be a JSON object, got {training_params!r}")
    print(f"drift check verdict: {drift_status}; retraining symptom-forecasting ({mode})")
    if mode == "local":
        args = [sys.executable, "-m", "novamind_core.cli", "pipeline", "run", "symptom-forecasting"]
        for key, value in params.items():
            args += ["--param", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
        # a fresh CLI process, not the component runtime (_KFP_RUNTIME trims kfp.dsl)
        env = {k: v for k, v in os.environ.items() if k != "_KFP_RUNTIME"}
        subprocess.run(args, check=True, env=env)
        return "local run finished"
    if mode == "cluster":
        import kfp

        from pipelines.symptom_forecasting import symptom_forecasting

        client = kfp.Client(host=kfp_host or None)
        run = client.create_run_from_pipeline_func(
            symptom_forecasting, arguments=params, experiment_name="novamind-retraining"
        )
        return f"submitted run {run.run_id}"
    raise ValueError(f"mode must be 'local' or 'cluster', got {mode!r}")
