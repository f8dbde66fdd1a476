"""Biometric–symptom correlation pipeline: validate → align → correlate → register."""

from kfp import dsl

from components.biometric.align import align
from components.biometric.correlate import correlate
from components.biometric.register import register
from components.biometric.validate import validate
from novamind_core.infrastructure.kfp.cluster import DATA, wire

PIPELINE_NAME = "biometric-correlation"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Lead–lag correlations and directed relations of wearables and symptoms "
    "(autocorrelation-aware p-values, FDR q-values), registered as biometric-correlator.",
)
def biometric_correlation(
    dataset_version: str = "latest",
    max_lag: int = 7,
    method: str = "pearson",
    fdr: float = 0.05,
    expected_relations: str = "",
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
    wire(
        register(
            analysis=analysis.outputs["analysis"],
            charts=analysis.outputs["charts"],
            dataset_version=version,
            dataset_fingerprint=checked.outputs["fingerprint"],
            parent_run_id=parent,
            launched_by=launched_by,
        ),
        DATA,
    )
