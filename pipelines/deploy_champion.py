"""Deploy pipeline: render the validated InferenceService of an approved champion."""

from kfp import dsl

from components.image import BASE_IMAGE
from components.render_manifest import render_manifest
from novamind_core.families import DEFAULT_MODEL
from novamind_core.infrastructure.kfp.cluster import wire

PIPELINE_NAME = "deploy-champion"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Render the KServe InferenceService of the "
    "approved champion (apply it with `novamind deploy apply` or GitOps).",
)
def deploy_champion(model_name: str = DEFAULT_MODEL, image: str = BASE_IMAGE, run_tag: str = ""):
    wire(render_manifest(model_name=model_name, image=image))
