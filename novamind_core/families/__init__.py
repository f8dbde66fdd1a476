"""The registry of model families, and the platform's pipelines that serve them all.

Everything shared — `novamind pipeline|serve|deploy|monitor|models`, the server, the
generic components — finds a family here by its registered model or pipeline name.
Adding a family means adding its descriptor to ``FAMILIES`` (see the README's checklist).
Family packages never import each other, nor this module (an import-linter contract).
"""

from __future__ import annotations

import json
from datetime import datetime

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.families.biometric.family import CORRELATION
from novamind_core.families.forecasting.family import FORECASTING
from novamind_core.families.pharmacogenomics.family import PHARMACOGENOMICS
from novamind_core.infrastructure.family_descriptor import Family, PipelineEntry

FAMILIES: tuple[Family, ...] = (FORECASTING, CORRELATION, PHARMACOGENOMICS)
DEFAULT_MODEL = FAMILIES[0].model_name  # what the drift and deploy pipelines act on by default


def family_of(model_name: str) -> Family:
    """The family whose registered model is ``model_name``."""
    for family in FAMILIES:
        if family.model_name == model_name:
            return family
    known = ", ".join(f.model_name for f in FAMILIES)
    raise NotFoundError(f"no model family serves {model_name!r}; known models: {known}")


def parse_since(text: str | None) -> datetime | None:
    """An ISO date or date-time (UTC) from the command line or a pipeline parameter."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--since {text!r} is not a date or date-time (use e.g. 2026-11-24 or 2026-11-24T08:00)"
        ) from None


def _known_model(params: dict, key: str) -> Family:
    try:
        return family_of(params.get(key, DEFAULT_MODEL))
    except NotFoundError as exc:
        raise ValidationError(f"parameter {key}: {exc}") from None


def check_drift_monitor_params(params: dict, settings) -> dict:
    """A known model, a training pipeline (default: the model's family's), a retraining
    mode, training parameters as a JSON object, a date for ``since``."""
    family = _known_model(params, "model")
    training = params.setdefault("training_pipeline", family.training_pipeline.name)
    if training not in pipelines():
        raise ValidationError(f"training_pipeline {training!r} is not a known pipeline")
    if params.get("retrain_mode", "local") not in {"local", "cluster"}:
        raise ValidationError(
            f"retrain_mode must be local or cluster; got {params['retrain_mode']!r}"
        )
    if params.get("training_params"):
        try:
            extra = json.loads(params["training_params"])
        except ValueError:
            extra = None
        if not isinstance(extra, dict):
            raise ValidationError(
                'training_params must be a JSON object, e.g. {"epochs": 2, "trials": 4}'
            )
    parse_since(params.get("since") or None)
    return params


def check_deploy_params(params: dict, settings) -> dict:
    _known_model(params, "model_name")
    return params


PLATFORM_PIPELINES: tuple[PipelineEntry, ...] = (
    PipelineEntry(
        "drift-monitor",
        "pipelines.drift_monitor:drift_monitor",
        "judge a champion's payloads for drift; on drift, retrain",
        check_drift_monitor_params,
    ),
    PipelineEntry(
        "deploy-champion",
        "pipelines.deploy_champion:deploy_champion",
        "render the validated InferenceService of a champion",
        check_deploy_params,
    ),
)


def pipelines() -> dict[str, PipelineEntry]:
    """Every pipeline by name: each family's, then the platform's."""
    entries = [p for family in FAMILIES for p in family.pipelines] + list(PLATFORM_PIPELINES)
    return {entry.name: entry for entry in entries}


def pipeline(name: str) -> PipelineEntry:
    found = pipelines()
    if name not in found:
        raise NotFoundError(f"unknown pipeline {name!r}; known: {', '.join(found)}")
    return found[name]
