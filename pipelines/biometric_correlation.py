"""Biometric–symptom correlation pipeline: validate → align → correlate ∥ (train BiLSTM ∥
TFT ∥ HFBN ∥ aligner → evaluate predictors) → register ``biometric-correlator``."""

from kfp import dsl

from components.biometric.align import align
from components.biometric.correlate import correlate
from components.biometric.evaluate_predictors import evaluate_predictors
from components.biometric.register import register
from components.biometric.train_aligner import train_aligner
from components.biometric.train_bilstm import train_bilstm
from components.biometric.train_hfbn import train_hfbn
from components.biometric.train_tft import train_tft
from components.biometric.validate import validate
from novamind_core.infrastructure.kfp.cluster import DATA, TRAINING, wire

PIPELINE_NAME = "biometric-correlation"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Lead–lag correlations and directed relations of wearables and symptoms "
    "(autocorrelation-aware p-values, FDR q-values) and symptom predictors from wearable "
    "windows (BiLSTM with attention, TFT, TensorFlow HFBN, contrastive aligner) against "
    "naive and ridge baselines, registered as biometric-correlator.",
)
def biometric_correlation(
    dataset_version: str = "latest",
    max_lag: int = 7,
    method: str = "pearson",
    fdr: float = 0.05,
    expected_relations: str = "",
    predictor_seed: int = 0,
    max_train_windows: int = 0,
    run_tag: str = "",
    launched_by: str = "",
):
    checked = wire(
        validate(
            dataset_version=dataset_version,
            max_lag=max_lag,
            method=method,
            fdr=fdr,
            run_tag=run_tag,
        ),
        DATA,
    )
    version = checked.outputs["version"]
    parent = checked.outputs["parent_run_id"]
    grid = wire(align(dataset_version=version, parent_run_id=parent), DATA)
    analysis = wire(
        correlate(
            grid=grid.outputs["grid"],
            max_lag=max_lag,
            method=method,
            fdr=fdr,
            expected_relations=expected_relations,
            parent_run_id=parent,
        ),
        DATA,
    )
    training = {
        "grid": grid.outputs["grid"],
        "seed": predictor_seed,
        "max_train_windows": max_train_windows,
        "parent_run_id": parent,
    }
    bilstm = wire(train_bilstm(**training), TRAINING)
    tft = wire(train_tft(**training), TRAINING)
    hfbn = wire(train_hfbn(readings=grid.outputs["readings"], **training), TRAINING)
    aligner = wire(train_aligner(**training), TRAINING)
    predictors = wire(
        evaluate_predictors(
            grid=grid.outputs["grid"],
            bilstm=bilstm.outputs["report"],
            tft=tft.outputs["report"],
            hfbn=hfbn.outputs["report"],
            aligner=aligner.outputs["report"],
            seed=predictor_seed,
            parent_run_id=parent,
        ),
        DATA,
    )
    wire(
        register(
            analysis=analysis.outputs["analysis"],
            charts=analysis.outputs["charts"],
            predictors=predictors.outputs["evaluation"],
            bilstm=bilstm.outputs["model"],
            tft=tft.outputs["model"],
            hfbn=hfbn.outputs["model"],
            aligner=aligner.outputs["model"],
            dataset_version=version,
            dataset_fingerprint=checked.outputs["fingerprint"],
            parent_run_id=parent,
            launched_by=launched_by,
        ),
        DATA,
    )
