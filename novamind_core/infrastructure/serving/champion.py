"""Which version a server serves: the champion alias (or a pinned URI), polled for changes.

The poll thread reloads a model when its alias moves (a failed load keeps the old one),
refreshes the drift gauges from the served version's tags, and writes buffered
payload-log rows, so that the drift monitor reads rows at most one interval old.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from novamind_core.domain.model_registry import CHAMPION

log = logging.getLogger(__name__)
VERDICT_VALUES = {"drift": 1.0, "no_drift": 0.0, "insufficient_data": -1.0}


def champion_loader(name: str, servable_from: Callable[[Any], Any]):
    """``load(current) -> (servable, version)`` of ``models:/<name>@champion``:
    (None, current) when unchanged, (None, None) without a champion. ``NOVAMIND_MODEL_URI``
    (set by a rendered InferenceService, ``models:/<name>/<version>``) pins one approved
    version of this model instead."""

    def load(current: str | None):
        import mlflow
        from mlflow.tracking import MlflowClient

        from novamind_core.infrastructure.registry.tracking import configure

        configure()
        pinned = os.environ.get("NOVAMIND_MODEL_URI", "")
        if pinned.startswith(f"models:/{name}/"):
            version, uri = pinned.rsplit("/", 1)[-1], pinned
        else:
            try:
                version = str(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
            except mlflow.exceptions.MlflowException:
                return None, None
            uri = f"models:/{name}/{version}"  # exactly the version read above
        if version == current:
            return None, current
        return servable_from(mlflow.pyfunc.load_model(uri).unwrap_python_model()), version

    return load


def update_drift_gauges(model) -> None:
    """Expose the served version's latest drift verdict (its ``drift.*`` tags) as gauges."""
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.serving import metrics

    if model.version is None:
        return
    try:
        tags = MlflowClient().get_model_version(model.name, model.version).tags
    except Exception as exc:  # the registry being away must not disturb serving
        log.warning("could not read the drift status of %s: %s", model.name, exc)
        return
    status = tags.get("drift.status")
    if status is None:
        return
    metrics.DRIFT_DETECTED.labels(model.name, model.version).set(VERDICT_VALUES.get(status, -1.0))
    for column, score in json.loads(tags.get("drift.scores", "{}")).items():
        metrics.DRIFT_SCORE.labels(model.name, model.version, column).set(float(score))


def poll_champions(models, interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds until ``stop``: reload, refresh gauges, flush payloads."""
    while not stop.wait(interval):
        for model in models:
            model.load()
            update_drift_gauges(model)
            if model.payload_log is not None:
                model.payload_log.flush()
