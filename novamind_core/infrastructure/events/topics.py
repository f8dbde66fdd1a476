"""The topics and what their events hold: pseudonymized payloads only.

``SymptomUpdate``: a new self-report, a wearable summary or a newly stored dataset version
for one patient, named by pseudonym; ``ModelPromotion``: an approval or rollback moved a
champion; the twin's insights go to ``TWIN_INSIGHTS``. An event that does not parse — not
JSON, a raw identifier where a pseudonym belongs, an unknown field, a value out of its
instrument's range — goes to the dead-letter topic with the reason, never further.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from novamind_core.domain.observations import BiometricKind, Instrument

SYMPTOM_UPDATES = "novamind.symptom-updates"
TWIN_INSIGHTS = "novamind.twin-insights"
MODEL_PROMOTIONS = "novamind.model-promotions"
DEAD_LETTERS = "novamind.symptom-updates.dlq"
ALL_TOPICS = (SYMPTOM_UPDATES, TWIN_INSIGHTS, MODEL_PROMOTIONS, DEAD_LETTERS)
MAX_EVENT_BYTES = 64 * 1024
PSEUDONYM_PATTERN = r"^p_[0-9a-f]{24}$"
RANGES = {
    **{i.value: i.score_range for i in Instrument},
    **{b.value: b.valid_range for b in BiometricKind},
}


class SymptomUpdate(BaseModel):
    """Something new about one patient (by pseudonym)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient: str = Field(pattern=PSEUDONYM_PATTERN)
    kind: Literal["self_report", "wearable_summary", "dataset"]
    day: date | None = None
    values: dict[str, float] = Field(default_factory=dict)
    dataset_version: str | None = Field(default=None, pattern=r"^v\d{4,}$")
    emitted_at: datetime

    @field_validator("values")
    @classmethod
    def _in_range(cls, values: dict[str, float]) -> dict[str, float]:
        for name, value in values.items():
            if name not in RANGES:
                raise ValueError(f"unknown measure; known: {', '.join(sorted(RANGES))}")
            low, high = RANGES[name]
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"{name} must lie between {low} and {high}")
        return values


class ModelPromotion(BaseModel):
    """A champion moved: approved or rolled back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, max_length=100)
    version: str = Field(pattern=r"^\d+$")
    action: Literal["approve", "rollback"]
    at: datetime


class BadEvent(ValueError):
    """An event that does not parse; the message says why without repeating its values."""


def parse(topic: str, raw: bytes) -> SymptomUpdate | ModelPromotion:
    """The event a message holds, or ``BadEvent`` naming each problem."""
    kind = {SYMPTOM_UPDATES: SymptomUpdate, MODEL_PROMOTIONS: ModelPromotion}.get(topic)
    if kind is None:
        raise BadEvent(f"no events are read from topic {topic}")
    if raw is None or len(raw) > MAX_EVENT_BYTES:
        raise BadEvent(f"an event is a JSON object of at most {MAX_EVENT_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("not JSON") from None
    if not isinstance(data, dict):
        raise BadEvent("not a JSON object")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "event"
            problems.append(f"{where}: {error['msg']}")
        raise BadEvent("; ".join(problems[:5])) from None


def encode(event: BaseModel | dict) -> bytes:
    if isinstance(event, BaseModel):
        return event.model_dump_json().encode()
    return json.dumps(event, separators=(",", ":"), default=str).encode()
