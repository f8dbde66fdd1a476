"""Use case: everything a reviewer needs to judge a challenger against the champion."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

from novamind_core.domain.errors import NotFoundError
from novamind_core.domain.model_registry import CHALLENGER, CHAMPION, ModelRegistry, ModelVersion


class ReviewArtifacts(Protocol):
    """Where the evaluation and plots of a version are kept."""

    def evaluation(self, name: str, version: str) -> dict: ...

    def charts(self, name: str, version: str) -> list[bytes]: ...


@dataclass
class Review:
    name: str
    candidate: ModelVersion
    champion: ModelVersion | None
    candidate_evaluation: dict
    champion_evaluation: dict | None
    charts: list[bytes] = field(default_factory=list)

    @staticmethod
    def drift_status(version: ModelVersion | None) -> str:
        """The latest drift verdict recorded on a version by `novamind monitor drift`."""
        if version is None:
            return "-"
        summary = version.tags.get("drift.summary")
        if summary is None:
            served = CHAMPION in version.aliases
            return "no drift check yet" if served else "not served: no drift check"
        checked = version.tags.get("drift.checked_at", "")
        return f"{summary} (checked {checked})" if checked else summary

    @staticmethod
    def _mean(evaluation: dict | None, part: str, model: str, metric: str) -> str:
        try:
            values = [v for v in evaluation[part]["models"][model][metric] if v == v]
        except (KeyError, TypeError):
            return "-"
        return f"{sum(values) / len(values):.3f}" if values else "-"

    @staticmethod
    def _gates(version: ModelVersion | None) -> str:
        if version is None:
            return "-"
        return "passed" if version.gates_passed else "failed: " + ", ".join(version.failed_gates)

    def summary_rows(self) -> list[tuple[str, str, str]]:
        c, ch = self.candidate, self.champion
        ce, he = self.candidate_evaluation, self.champion_evaluation
        tag = lambda v, key: v.tags.get(key, "-") if v else "-"  # noqa: E731
        return [
            ("version", c.version, ch.version if ch else "-"),
            ("gates", self._gates(c), self._gates(ch)),
            (
                "data validation",
                tag(c, "gate.data_validation_passed"),
                tag(ch, "gate.data_validation_passed"),
            ),
            ("dataset", tag(c, "dataset_version"), tag(ch, "dataset_version")),
            ("code version", tag(c, "code_version"), tag(ch, "code_version")),
            (
                "test MASE (mean)",
                self._mean(ce, "test", "ensemble", "mase"),
                self._mean(he, "test", "ensemble", "mase"),
            ),
            (
                "held-out MASE (mean)",
                self._mean(ce, "heldout", "ensemble", "mase"),
                self._mean(he, "heldout", "ensemble", "mase"),
            ),
            (
                "80% interval coverage (test)",
                self._mean(ce, "test", "ensemble", "coverage"),
                self._mean(he, "test", "ensemble", "coverage"),
            ),
            ("drift", self.drift_status(c), self.drift_status(ch)),
            ("decision", tag(c, "decision"), tag(ch, "decision")),
        ]

    def horizon_rows(self) -> dict[str, list[list[str]]]:
        out: dict[str, list[list[str]]] = {}
        for part, result in self.candidate_evaluation.items():
            models = result["models"]
            theirs = (self.champion_evaluation or {}).get(part, {}).get("models", {})
            rows = []
            for h, ours in enumerate(models["ensemble"]["mase"]):

                def pick(source, model, metric, h=h):
                    try:
                        return f"{source[model][metric][h]:.3f}"
                    except (KeyError, IndexError, TypeError):
                        return "-"

                rows.append(
                    [
                        str(h + 1),
                        f"{ours:.3f}",
                        pick(theirs, "ensemble", "mase"),
                        pick(models, "seasonal_naive", "mase"),
                        pick(models, "auto_ets", "mase"),
                        pick(models, "ensemble", "coverage"),
                    ]
                )
            out[part] = rows
        return out

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "summary": self.summary_rows(), "horizons": self.horizon_rows()},
            indent=2,
        )


def build_review(
    registry: ModelRegistry, artifacts: ReviewArtifacts, name: str, version: str | None = None
) -> Review:
    if version == "latest":
        versions = registry.versions(name)
        if not versions:
            raise NotFoundError(f"{name} has no registered version")
        version = versions[-1].version
    candidate = registry.get(name, version) if version else registry.alias(name, CHALLENGER)
    if candidate is None:
        raise NotFoundError(f"{name} has no challenger; pass --version to review another version")
    champion = registry.alias(name, CHAMPION)
    if champion is not None and champion.version == candidate.version:
        champion = None
    return Review(
        name=name,
        candidate=candidate,
        champion=champion,
        candidate_evaluation=artifacts.evaluation(name, candidate.version),
        champion_evaluation=artifacts.evaluation(name, champion.version) if champion else None,
        charts=artifacts.charts(name, candidate.version),
    )
