"""One drift check wired to the real adapters: MLflow, the payload log, Evidently.

Used by `novamind monitor drift` and by the drift-monitor pipeline's component.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from novamind_core.application.monitor_drift import DriftReport, check_drift
from novamind_core.domain.drift import DriftResult
from novamind_core.domain.errors import ValidationError
from novamind_core.domain.model_registry import ModelVersion
from novamind_core.infrastructure import composition
from novamind_core.infrastructure.store.location import StoreLocation


@dataclass
class DriftCheck:
    result: DriftResult
    report: DriftReport | None
    written_to: str | None  # where drift_report.html and .json went
    mlflow_run_id: str | None


def read_current(path: Path) -> pd.DataFrame:
    """A feature frame given on the command line (Parquet or CSV)."""
    if not path.exists():
        raise ValidationError(f"--current {path}: no such file")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:
        raise ValidationError(
            f"--current {path}: cannot read it as Parquet or CSV ({exc})"
        ) from None


def run_drift_check(
    model: str,
    features: Sequence[str],
    since: datetime | None = None,
    current_path: Path | None = None,
    out: StoreLocation | None = None,
    min_samples: int | None = None,
    actor: str = "drift-monitor",
) -> DriftCheck:
    from novamind_core.infrastructure.monitoring.alerts import LogAlert, WebhookAlert
    from novamind_core.infrastructure.monitoring.drift_policy import load_policy
    from novamind_core.infrastructure.monitoring.drift_reference import MlflowDriftReferences
    from novamind_core.infrastructure.monitoring.evidently_drift import EvidentlyDriftDetector
    from novamind_core.infrastructure.registry.drift_status import MlflowDriftRecorder

    if not features:
        raise ValidationError(
            f"{model} has no drift features: its answers are analyses of the data sent, "
            "not predictions of fitted weights (see its family's drift_features)"
        )
    settings = composition.settings()
    key = settings.require_encryption_key()
    policy = load_policy(features, settings.drift_policy, model, min_samples=min_samples)
    audit = composition.audit_trail(actor)
    given = read_current(current_path) if current_path is not None else None
    source = f"frame {current_path.name}" if current_path is not None else "payload log"

    def current_for(champion: ModelVersion) -> pd.DataFrame:
        if given is not None:
            return given
        frame = composition.payload_log(model).read_since(since)
        audit.record("read", f"payloads/{model}", purpose="drift check", rows=len(frame))
        if frame.empty:
            return frame
        return frame[frame["model_version"].astype(str) == champion.version].reset_index(drop=True)

    recorder = MlflowDriftRecorder()
    alerts = [LogAlert()]
    if settings.drift_webhook_url:
        alerts.append(WebhookAlert(settings.drift_webhook_url))
    result, report = check_drift(
        model,
        composition.model_registry(),
        MlflowDriftReferences(key),
        EvidentlyDriftDetector(),
        current_for,
        policy,
        recorder,
        alerts,
        source=source,
    )
    written_to = None
    if report is not None and out is not None:
        out.write_bytes("drift_report.html", report.html.encode())
        out.write_bytes("drift_report.json", report.json.encode())
        written_to = out.uri
    return DriftCheck(result, report, written_to, recorder.run_id)
