"""Component: render and validate the InferenceService of an approved champion."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def render_manifest(model_name: str, image: str, manifest: Output[Artifact]) -> str:
    from pathlib import Path

    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.deployment.manifests import render_validated

    text = render_validated(composition.model_registry(), model_name, image)
    Path(manifest.path).write_text(text)
    return text.split("novamind.io/model-version: ", 1)[1].split("\n", 1)[0].strip('"')
