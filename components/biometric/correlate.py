"""Component: every lead–lag and directed test of the cohort, the null check, the gates."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def correlate(
    grid: Input[Dataset],
    max_lag: int,
    method: str,
    fdr: float,
    expected_relations: str,
    parent_run_id: str,
    analysis: Output[Artifact],
    charts: Output[Artifact],
    metrics: Output[Metrics],
):
    from novamind_core.families.biometric import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "correlate",
        parent_run_id,
        metrics,
        steps.correlate_step,
        headline=("significant", "edges", "null_rejection_rate"),
        grid=grid,
        max_lag=max_lag,
        method=method,
        fdr=fdr,
        expected_relations=expected_relations,
        analysis=analysis,
        charts=charts,
    )
