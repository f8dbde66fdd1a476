"""Component: the catalog's SMILES → molecular graphs (RDKit) and fingerprints."""

from kfp import dsl
from kfp.dsl import Artifact, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def build_graphs(
    dataset_version: str,
    parent_run_id: str,
    catalog: Output[Artifact],
    metrics: Output[Metrics],
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure.kfp.step_runner import run_step

    run_step(
        "build_graphs",
        parent_run_id,
        metrics,
        steps.build_graphs,
        headline=("drugs", "atoms_mean"),
        dataset_version=dataset_version,
        catalog=catalog,
    )
