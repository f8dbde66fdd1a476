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


def champion_loader(name: str, servable_from: Callable[[Any], Any], approvals):
    """``load(current) -> (servable, version)`` of ``models:/<name>@champion``:
    (None, current) when unchanged, (None, None) without a champion. ``NOVAMIND_MODEL_URI``
    (set by a rendered InferenceService, ``models:/<name>/<version>``) pins one approved
    version of this model instead. Either way only a version whose signed approval and
    artifact digest verify is loaded (``approvals.load_approved``); any other raises
    ``UnapprovedVersion``."""

    def load(current: str | None):
        import mlflow
        from mlflow.tracking import MlflowClient

        from novamind_core.infrastructure.registry.tracking import configure

        configure()
        pinned = os.environ.get("NOVAMIND_MODEL_URI", "")
        if pinned.startswith(f"models:/{name}/"):
            version = pinned.rsplit("/", 1)[-1]
        else:
            try:
                version = str(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
            except mlflow.exceptions.MlflowException:
                return None, None
        if version == current:
            return None, current
        return servable_from(approvals.load_approved(name, version)), version

    return load


def update_drift_gauges(model) -> None:
    """Expose the served version's latest drift verdict (its ``drift.*`` tags) as gauges;
    a registry that is away or a malformed tag is logged and counted, never raised."""
    from mlflow.tracking import MlflowClient

    from novamind_core.infrastructure.serving import metrics

    if model.version is None:
        return
    try:
        tags = MlflowClient().get_model_version(model.name, model.version).tags
        status = tags.get("drift.status")
        if status is None:
            return
        scores = json.loads(tags.get("drift.scores", "{}"))
        if not isinstance(scores, dict):
            raise ValueError("drift.scores is not an object")
        values = {str(column): float(score) for column, score in scores.items()}
    except Exception as exc:  # the registry being away or a bad tag must not stop serving
        log.warning("could not read the drift status of %s: %s", model.name, type(exc).__name__)
        metrics.POLL_ERRORS.labels(model.name).inc()
        return
    metrics.DRIFT_DETECTED.labels(model.name, model.version).set(VERDICT_VALUES.get(status, -1.0))
    for column, score in values.items():
        metrics.DRIFT_SCORE.labels(model.name, model.version, column).set(score)


def poll_once(model) -> None:
    """One poll of one model: reload, refresh gauges, flush payloads — each failure logged
    and counted, so that the poll thread never dies."""
    from novamind_core.infrastructure.serving import metrics

    for step in (model.load, lambda: update_drift_gauges(model), model.flush_payloads):
        try:
            step()
        except Exception as exc:
            log.error("the champion poll of %s failed: %s", model.name, type(exc).__name__)
            metrics.POLL_ERRORS.labels(model.name).inc()


def poll_champions(models, interval: float, stop: threading.Event) -> None:
    """Every ``interval`` seconds until ``stop``: poll each model."""
    while not stop.wait(interval):
        for model in models:
            poll_once(model)
