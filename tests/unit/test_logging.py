import io
import json
import logging

import pytest

from novamind_core.infrastructure.observability.logging import (
    WITHHELD,
    configure_logging,
    guard,
    new_correlation_id,
)


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    configure_logging("DEBUG", "test_service", stream=stream)
    yield stream
    configure_logging("INFO", "novamind")


def records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_lines_follow_the_design_format(log_stream):
    cid = new_correlation_id()
    logging.getLogger("novamind_core.test").info(
        "Forecast generated", extra={"patient_id_hash": "p_" + "a" * 24, "duration_ms": 12}
    )
    (entry,) = records(log_stream)
    assert set(entry) == {
        "timestamp",
        "level",
        "service",
        "message",
        "patient_id_hash",
        "correlation_id",
        "request_id",
        "duration_ms",
    }
    assert entry["service"] == "test_service"
    assert entry["correlation_id"] == cid
    assert entry["duration_ms"] == 12
    assert entry["timestamp"].endswith("Z")


def test_raw_mrn_is_withheld(log_stream):
    logging.getLogger("novamind_core.test").warning("patient %s missed a dose", "MRN1234567")
    (entry,) = records(log_stream)
    assert "MRN1234567" not in log_stream.getvalue()
    assert entry["message"].startswith(WITHHELD)


def test_registered_names_are_withheld_even_in_exceptions(log_stream):
    guard.register(["Olivia Smith"])
    try:
        raise ValueError("bad row for Olivia Smith")
    except ValueError:
        logging.getLogger("novamind_core.test").exception("could not parse")
    assert "Olivia Smith" not in log_stream.getvalue()
    assert records(log_stream)[0]["message"].startswith(WITHHELD)


def test_library_chatter_below_warning_is_dropped(log_stream):
    logging.getLogger("great_expectations.data_context").info("Created temporary directory")
    logging.getLogger("great_expectations.data_context").warning("something odd")
    assert [r["message"] for r in records(log_stream)] == ["something odd"]
