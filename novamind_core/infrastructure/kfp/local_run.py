"""A pipeline run on the KFP local runner that reads like a progress report.

The local runner runs each step in a subprocess and prints its whole output — executor
input JSON, library chatter, tracebacks — to ``sys.stdout``, along with its own log lines.
Here that output goes to files instead: the whole run in ``pipeline.log`` and each step's
part in ``<step>.log`` of the run's log folder. What the run reports is read from those
lines as they pass: a step starts, or ends (with its status and the marker line of
``step_runner.announce``: headline figures and summary items). With
``echo`` the output is also streamed as before (`novamind pipeline run --verbose`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from novamind_core.infrastructure.kfp.step_runner import MARKER

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STARTED = re.compile(r"Executing task '([^']+)'")
ENDED = re.compile(r"Task '([^']+)' finished with status (\w+)")
NOISE = re.compile(r"^(-+|Streamed logs:|.* - (INFO|ERROR) - .*)$")


@dataclass
class StepEvent:
    """Something a step did: ``started``, or ``ended`` (with ``status``)."""

    kind: str
    step: str
    status: str = ""
    seconds: float = 0.0
    headline: dict = field(default_factory=dict)
    log: Path | None = None


@dataclass
class RunReport:
    """What a finished (or failed) run leaves behind."""

    log_dir: Path
    steps: dict[str, StepEvent] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None

    @property
    def log(self) -> Path:
        return self.log_dir / "pipeline.log"

    def error_tail(self, lines: int = 8) -> list[str]:
        """The last lines of the failed step's log: its error, without the runner's lines."""
        if self.failed_step is None:
            return []
        path = self.log_dir / f"{self.failed_step}.log"
        if not path.exists():
            return []
        kept = [
            line.strip()
            for line in path.read_text(errors="replace").splitlines()
            if line.strip() and not NOISE.match(line.strip())
        ]
        return kept[-lines:]


class _OutputSplitter(io.TextIOBase):
    """A ``sys.stdout`` stand-in: whole lines to the run's log files, events to a callback."""

    def __init__(self, report: RunReport, on_event, echo: TextIO | None) -> None:
        self.report = report
        self.on_event = on_event
        self.echo = echo
        self.pending = ""
        self.run_log = report.log.open("a", encoding="utf-8")
        self.step_logs: dict[str, TextIO] = {}
        self.current: str | None = None
        self.started: dict[str, float] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.echo is not None:
            self.echo.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self) -> None:
        self.run_log.flush()
        if self.echo is not None:
            self.echo.flush()

    def close_all(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = ""
        for handle in [self.run_log, *self.step_logs.values()]:
            handle.close()

    def _line(self, raw: str) -> None:
        line = ANSI.sub("", raw)
        self.run_log.write(line + "\n")
        if (match := STARTED.search(line)) is not None:
            self._start(match.group(1))
        if self.current is not None:
            self.step_logs[self.current].write(line + "\n")
        if MARKER in line:
            self._marker(line.split(MARKER, 1)[1])
        elif (match := ENDED.search(line)) is not None:
            self._end(match.group(1), match.group(2))

    def _start(self, step: str) -> None:
        self.current = step
        self.started[step] = time.perf_counter()
        path = self.report.log_dir / f"{step}.log"
        self.step_logs[step] = path.open("w", encoding="utf-8")
        event = StepEvent("started", step, log=path)
        self.report.steps[step] = event
        self.on_event(event)

    def _marker(self, text: str) -> None:
        try:
            record = json.loads(text)
        except ValueError:
            return
        step = self.report.steps.get(self.current or "")
        if step is not None:
            step.headline.update(record.get("headline", {}))
        self.report.summary.update(record.get("summary", {}))

    def _end(self, step: str, status: str) -> None:
        started = self.report.steps.get(step)
        event = StepEvent(
            "ended",
            step,
            status,
            time.perf_counter() - self.started.get(step, time.perf_counter()),
            dict(started.headline) if started else {},
            self.report.log_dir / f"{step}.log",
        )
        self.report.steps[step] = event
        if status != "SUCCESS" and self.report.failed_step is None:
            self.report.failed_step = step
        handle = self.step_logs.get(step)
        if handle is not None:
            handle.flush()
        self.current = None
        self.on_event(event)


@contextlib.contextmanager
def _captured(splitter: _OutputSplitter) -> Iterator[None]:
    """Route this process's Python-level stdout and stderr through ``splitter``."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = splitter
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        splitter.close_all()


def run_local(
    pipeline,
    params: dict,
    pipeline_root: Path,
    log_dir: Path,
    on_event: Callable[[StepEvent], None],
    echo: TextIO | None = None,
) -> RunReport:
    """Run ``pipeline(**params)`` on the KFP local runner (every step a subprocess in this
    environment); its output goes to ``log_dir``. Raises what the runner raises when a
    step fails; the report (``RunReport``, also on the exception as ``report``) names it."""
    import kfp.local

    log_dir.mkdir(parents=True, exist_ok=True)
    report = RunReport(log_dir)
    kfp.local.init(
        runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root)
    )
    splitter = _OutputSplitter(report, on_event, echo)
    try:
        with _captured(splitter):
            pipeline(**params)
    except Exception as exc:
        exc.report = report  # type: ignore[attr-defined]
        raise
    return report
