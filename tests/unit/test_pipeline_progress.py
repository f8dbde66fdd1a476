"""The local run's progress report, read from output shaped like the KFP local runner's."""

from __future__ import annotations

import json

from novamind_core.infrastructure.kfp.local_run import RunReport, _OutputSplitter
from novamind_core.infrastructure.kfp.step_runner import MARKER

CYAN, GREEN, RED, RESET = "\x1b[96m", "\x1b[92m", "\x1b[91m", "\x1b[0m"


def kfp_task(step: str, body: list[str], status: str = "SUCCESS") -> str:
    """What the local runner prints for one task: its own log lines (colored), the
    task's output indented by four spaces, a separator."""
    color = GREEN if status == "SUCCESS" else RED
    lines = [
        f"04:51:49.123 - INFO - Executing task {CYAN}'{step}'{RESET}",
        "04:51:49.124 - INFO - Streamed logs:",
        "",
        *(f"    {line}" for line in body),
        f"04:51:52.000 - INFO - Task {CYAN}'{step}'{RESET} finished with status "
        f"{color}{status}{RESET}",
        "-" * 80,
    ]
    return "\n".join(lines) + "\n"


def marker(step: str, headline: dict, summary: dict | None = None) -> str:
    record = {"step": step, "seconds": 1.0, "headline": headline}
    if summary:
        record["summary"] = summary
    return f"{MARKER} {json.dumps(record)}"


def run(tmp_path, text: str, chunk: int = 7):
    """Feed ``text`` in small pieces, as writes arrive; return the report and the events."""
    report, events = RunReport(tmp_path), []
    splitter = _OutputSplitter(report, events.append, echo=None)
    for start in range(0, len(text), chunk):
        splitter.write(text[start : start + chunk])
    splitter.close_all()
    return report, events


def test_each_step_is_one_start_and_one_end_with_its_headline_figures(tmp_path):
    text = kfp_task(
        "validate",
        [
            '{"executor_input": "noise"}',
            marker("validate", {"expectations": 120}, {"dataset": "v1"}),
        ],
    ) + kfp_task("impute", ["chatter", marker("impute", {"patients": 40, "patient_days": 5600})])
    report, events = run(tmp_path, text)
    assert [(e.kind, e.step) for e in events] == [
        ("started", "validate"),
        ("ended", "validate"),
        ("started", "impute"),
        ("ended", "impute"),
    ]
    assert events[1].status == "SUCCESS" and events[1].headline == {"expectations": 120}
    assert events[3].headline == {"patients": 40, "patient_days": 5600}
    assert report.summary == {"dataset": "v1"}
    assert report.failed_step is None


def test_the_whole_output_goes_to_the_run_log_and_each_step_to_its_own(tmp_path):
    text = "04:51:48 - INFO - Running pipeline: x\n" + kfp_task("split", ["split chatter"])
    report, _ = run(tmp_path, text)
    whole = report.log.read_text()
    assert "Running pipeline: x" in whole and "split chatter" in whole
    assert "\x1b[" not in whole  # colors stripped
    step = (tmp_path / "split.log").read_text()
    assert "split chatter" in step and "Running pipeline" not in step


def test_a_failed_step_is_named_with_the_end_of_its_error(tmp_path):
    traceback = [
        "Traceback (most recent call last):",
        '  File "steps.py", line 3, in impute',
        "novamind_core.domain.errors.ValidationError: instrument gad7 is missing",
    ]
    report, events = run(tmp_path, kfp_task("impute", traceback, status="FAILURE"))
    assert events[-1].status == "FAILURE"
    assert report.failed_step == "impute"
    tail = report.error_tail()
    assert tail[-1] == "novamind_core.domain.errors.ValidationError: instrument gad7 is missing"
    assert not any("Task" in line or line.startswith("---") for line in tail)


def test_echo_streams_the_output_unchanged(tmp_path):
    import io

    echo = io.StringIO()
    text = kfp_task("split", ["line one"])
    splitter = _OutputSplitter(RunReport(tmp_path), lambda e: None, echo=echo)
    splitter.write(text)
    splitter.close_all()
    assert echo.getvalue() == text
