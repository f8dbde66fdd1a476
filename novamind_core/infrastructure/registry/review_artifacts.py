"""Fetch a version's evaluation and charts from its MLflow run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


class MlflowReviewArtifacts:
    def __init__(self, registry) -> None:
        self.registry = registry

    def evaluation(self, name: str, version: str) -> dict:
        run_id = self.registry.run_id(name, version)
        with tempfile.TemporaryDirectory() as tmp:
            path = self.registry.client.download_artifacts(run_id, "evaluation.json", tmp)
            return json.loads(Path(path).read_text())

    def charts(self, name: str, version: str, folder: str) -> list[bytes]:
        run_id = self.registry.run_id(name, version)
        names = [a.path for a in self.registry.client.list_artifacts(run_id, folder)]
        with tempfile.TemporaryDirectory() as tmp:
            return [
                Path(self.registry.client.download_artifacts(run_id, n, tmp)).read_bytes()
                for n in names
            ]
