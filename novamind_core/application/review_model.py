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

    def charts(self, name: str, version: str, folder: str) -> list[bytes]: ...


@dataclass(frozen=True)
class ReviewTable:
    title: str
    headers: tuple[str, ...]
    rows: list[list[str]]


class ReviewContent(Protocol):
    """What a family's review shows beyond the rows every review has: its headline
    figures beside the champion's, its own tables (e.g. per-horizon errors), and what
    its charts show, and the folder of the version's run that holds them."""

    charts_title: str
    charts_folder: str

    def summary_rows(
        self, candidate: dict, champion: dict | None
    ) -> list[tuple[str, str, str]]: ...

    def tables(self, candidate: dict, champion: dict | None) -> list[ReviewTable]: ...


@dataclass
class Review:
    name: str
    candidate: ModelVersion
    champion: ModelVersion | None
    candidate_evaluation: dict
    champion_evaluation: dict | None
    content: ReviewContent
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
    def _gates(version: ModelVersion | None) -> str:
        if version is None:
            return "-"
        return "passed" if version.gates_passed else "failed: " + ", ".join(version.failed_gates)

    def summary_rows(self) -> list[tuple[str, str, str]]:
        c, ch = self.candidate, self.champion
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
            *self.content.summary_rows(self.candidate_evaluation, self.champion_evaluation),
            ("drift", self.drift_status(c), self.drift_status(ch)),
            ("decision", tag(c, "decision"), tag(ch, "decision")),
        ]

    def tables(self) -> list[ReviewTable]:
        return self.content.tables(self.candidate_evaluation, self.champion_evaluation)

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "summary": self.summary_rows(),
                "tables": [table.__dict__ for table in self.tables()],
            },
            indent=2,
        )


def build_review(
    registry: ModelRegistry,
    artifacts: ReviewArtifacts,
    content: ReviewContent,
    name: str,
    version: str | None = None,
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
        content=content,
        charts=artifacts.charts(name, candidate.version, content.charts_folder),
    )
