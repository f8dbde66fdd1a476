"""Record a drift check in MLflow: a run with the scores and reports, and version tags.

Each check is one run of the ``drift-monitor`` experiment (metrics ``drift_score.<column>``,
``drift_detected``; artifacts ``drift_report.html`` and ``drift_report.json``). The
champion version gets tags ``drift.status``, ``drift.summary``, ``drift.checked_at``,
``drift.run_id`` and ``drift.scores``: what `models review` and the server's gauges read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from novamind_core.application.monitor_drift import DriftReport
from novamind_core.domain.drift import DriftResult, DriftStatus
from novamind_core.infrastructure.registry.tracking import configure

EXPERIMENT = "drift-monitor"


def status_tags(result: DriftResult, run_id: str) -> dict[str, str]:
    return {
        "drift.status": result.status.value,
        "drift.summary": result.summary()[:480],
        "drift.checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "drift.run_id": run_id,
        "drift.scores": json.dumps(
            {c.column: round(c.score, 4) for c in result.columns if c.judged}
        ),
        "drift.drifted": ",".join(result.drifted),
    }


class MlflowDriftRecorder:
    def __init__(self) -> None:
        self.run_id: str | None = None

    def record(self, result: DriftResult, report: DriftReport | None) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        experiment_id = configure(EXPERIMENT)
        with mlflow.start_run(
            run_name=f"{result.model}-v{result.version}", experiment_id=experiment_id
        ) as run:
            mlflow.set_tags(
                {
                    "model": result.model,
                    "model_version": result.version,
                    "drift.status": result.status.value,
                    "novamind.kind": "drift-check",
                }
            )
            mlflow.log_params(
                {
                    "method": result.method,
                    "reference_rows": result.reference_rows,
                    "current_rows": result.current_rows,
                }
            )
            metrics = {
                f"drift_score.{c.column}": c.score
                for c in result.columns
                if c.judged and math.isfinite(c.score)
            }
            metrics["drift_detected"] = float(result.status is DriftStatus.DRIFT)
            metrics["drifted_columns"] = float(len(result.drifted))
            mlflow.log_metrics(metrics)
            mlflow.log_dict(
                {
                    "summary": result.summary(),
                    "status": result.status.value,
                    "columns": [c.__dict__ for c in result.columns],
                },
                "drift_verdict.json",
            )
            if report is not None:
                mlflow.log_text(report.html, "drift_report.html")
                mlflow.log_text(report.json, "drift_report.json")
            self.run_id = run.info.run_id
        client = MlflowClient()
        for key, value in status_tags(result, self.run_id).items():
            client.set_model_version_tag(result.model, result.version, key, value)
