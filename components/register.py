"""Component: register the model version in MLflow; alias ``challenger`` if gates pass."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(
    bundle: Input[Model],
    evaluation: Input[Artifact],
    charts: Input[Artifact],
    reference: Input[Dataset],
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
) -> str:
    import json
    from pathlib import Path

    from novamind_core.infrastructure.forecasting.steps import register_step
    from novamind_core.infrastructure.registry import tracking

    result = register_step(
        Path(bundle.path),
        Path(evaluation.path),
        Path(charts.path),
        dataset_version,
        dataset_fingerprint,
        parent_run_id,
        Path(reference.path),
    )
    tracking.finish_pipeline_run(parent_run_id)
    return json.dumps(result)
