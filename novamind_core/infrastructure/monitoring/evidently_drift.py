"""Drift scores and the readable report, from an Evidently 0.7 ``Report``.

One ``DataDriftPreset`` over the judged columns (features and the model's prediction),
with the policy's method and per-column thresholds, and Evidently's tests included: a
``ValueDrift`` test per column and a drifted-columns test that fails as soon as one
column drifts. The scores the verdict uses are read back from the same snapshot.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from novamind_core.application.monitor_drift import DriftReport
from novamind_core.domain.drift import DriftPolicy


class EvidentlyDriftDetector:
    def compare(
        self,
        reference: pd.DataFrame,
        current: pd.DataFrame,
        columns: list[str],
        policy: DriftPolicy,
    ) -> DriftReport:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=list(columns))
        report = Report(
            [
                DataDriftPreset(
                    columns=list(columns),
                    method=policy.method,
                    per_column_threshold={c: policy.threshold(c) for c in columns},
                    # the share test fails when one column drifts (share >= 1/n)
                    drift_share=1.0 / len(columns),
                )
            ],
            include_tests=True,
        )
        snapshot = report.run(
            Dataset.from_pandas(current[columns].astype(float), data_definition=definition),
            Dataset.from_pandas(reference[columns].astype(float), data_definition=definition),
        )
        data = snapshot.dict()
        scores = {}
        for metric in data["metrics"]:
            config = metric.get("config", {})
            if config.get("type", "").endswith("ValueDrift") and config.get("column") in columns:
                scores[config["column"]] = float(metric["value"])
        missing = set(columns) - set(scores)
        if missing:
            raise RuntimeError(f"Evidently reported no drift score for {sorted(missing)}")
        with tempfile.TemporaryDirectory() as tmp:
            html = Path(tmp) / "drift.html"
            snapshot.save_html(str(html))
            text = html.read_text(encoding="utf-8")
        return DriftReport(scores=scores, html=text, json=json.dumps(data, default=str))
