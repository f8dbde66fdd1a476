"""Component: register the bundle as ``medication-response``; alias ``challenger`` if its
gates pass."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(
    bundle: Input[Model],
    evaluation: Input[Artifact],
    charts: Input[Artifact],
    reference: Input[Artifact],
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str,
) -> str:
    from novamind_core.families.pharmacogenomics.registration import register_step
    from novamind_core.infrastructure.kfp.step_runner import finish_pipeline

    return finish_pipeline(
        parent_run_id,
        register_step,
        bundle=bundle,
        evaluation=evaluation,
        charts=charts,
        reference=reference,
        dataset_version=dataset_version,
        dataset_fingerprint=dataset_fingerprint,
        parent_run_id=parent_run_id,
        launched_by=launched_by,
    )
