"""Component: register the analysis and the selected symptom predictor as
``biometric-correlator`` (every trained model logged beside it, the HFBN in MLflow's
TensorFlow flavour); alias ``challenger`` if its gates pass."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(
    analysis: Input[Artifact],
    charts: Input[Artifact],
    predictors: Input[Artifact],
    bilstm: Input[Model],
    tft: Input[Model],
    hfbn: Input[Model],
    aligner: Input[Model],
    dataset_version: str,
    dataset_fingerprint: str,
    parent_run_id: str,
    launched_by: str,
) -> str:
    from novamind_core.families.biometric.registration import register_step
    from novamind_core.infrastructure.kfp.step_runner import finish_pipeline

    return finish_pipeline(
        parent_run_id,
        register_step,
        analysis=analysis,
        charts=charts,
        predictors=predictors,
        bilstm=bilstm,
        tft=tft,
        hfbn=hfbn,
        aligner=aligner,
        dataset_version=dataset_version,
        dataset_fingerprint=dataset_fingerprint,
        parent_run_id=parent_run_id,
        launched_by=launched_by,
    )
