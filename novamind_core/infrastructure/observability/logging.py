"""JSON logs in the design document's format, with a guard against raw identifiers.

Fields: timestamp, level, service, message, patient_id_hash, correlation_id,
request_id, duration_ms. Pass ``patient_id_hash`` and ``duration_ms`` as ``extra``;
correlation and request ids come from context variables set per run or request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

MRN_PATTERN = re.compile(r"\bMRN\d{5,}\b", re.IGNORECASE)
WITHHELD = "log record withheld: it contained a raw patient identifier"
_FIELDS = ("patient_id_hash", "duration_ms")


class PhiGuard(logging.Filter):
    """Refuses to let a raw identifier through: the record is replaced by a notice.

    It knows the shape of medical record numbers and any literal identifiers (names,
    ids) registered with it while patient data is being handled.
    """

    def __init__(self) -> None:
        super().__init__()
        self._literals: set[str] = set()
        self._literal_pattern: re.Pattern[str] | None = None
        self.withheld = 0

    def register(self, identifiers: Iterable[str]) -> None:
        self._literals.update(str(i) for i in identifiers if i and len(str(i)) >= 4)
        if self._literals:
            ordered = sorted(self._literals, key=len, reverse=True)
            self._literal_pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def contains_identifier(self, text: str) -> bool:
        if MRN_PATTERN.search(text):
            return True
        return bool(self._literal_pattern and self._literal_pattern.search(text))

    def filter(self, record: logging.LogRecord) -> bool:
        texts = [record.getMessage()]
        texts += [str(v) for k, v in record.__dict__.items() if k in _FIELDS]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        if any(self.contains_identifier(t) for t in texts):
            self.withheld += 1
            record.msg, record.args = f"{WITHHELD} (logger {record.name}, line {record.lineno})", ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.ERROR, "ERROR"
        return True


class ThirdPartyQuiet(logging.Filter):
    """Let libraries speak at WARNING and above only; our own code at its set level."""

    OWN = ("novamind", "novamind_core", "components", "pipelines", "serving", "__main__")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".")[0] in self.OWN


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": getattr(record, "service", self.service),
            "message": record.getMessage(),
            "patient_id_hash": getattr(record, "patient_id_hash", None),
            "correlation_id": correlation_id.get(),
            "request_id": request_id.get(),
            "duration_ms": getattr(record, "duration_ms", None),
        }
        if getattr(record, "alert", None) is not None:  # structured alert payloads
            entry["alert"] = record.alert
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str)


guard = PhiGuard()


def configure_logging(level: str = "INFO", service: str = "novamind", stream=None) -> None:
    """Send every log record through the PHI guard to JSON lines on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(ThirdPartyQuiet())
    handler.addFilter(guard)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_novamind", False)]:
        root.removeHandler(old)
    handler._novamind = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


def new_correlation_id() -> str:
    value = str(uuid.uuid4())
    correlation_id.set(value)
    return value
