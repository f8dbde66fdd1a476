"""Request histories are checked column by column; errors still name the first bad value."""

import json
import math

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

from novamind_core.families.forecasting.serving import SymptomForecasterModel
from novamind_core.infrastructure.serving.request_checks import sent_history
from novamind_core.infrastructure.serving.routes import parse

KEY = "p_" + "a" * 24
MODEL = SymptomForecasterModel(loader=lambda current: (None, None))  # no champion needed


def _history_columns(key, rows, where):
    return sent_history(key, rows, where, MODEL.values)


_checked_columns = MODEL.values.from_columns


def _from_v2(request: InferRequest) -> list[dict]:
    return MODEL.parse_v2(*MODEL._v2_columns(request))


def rows(n: int = 5, changes: dict | None = None) -> list[dict]:
    out = [
        {"day": f"2025-03-{d + 1:02d}", "mood": 5.0, "phq9": 10, "steps": 6000.5, "gad7": None}
        for d in range(n)
    ]
    for (index, column), value in (changes or {}).items():
        out[index][column] = value
    return out


def test_plain_numbers_numpy_numbers_and_null_become_float_columns():
    history = rows()
    history[1]["mood"] = np.float32(6.5)
    history[2]["phq9"] = np.int64(12)
    out = _history_columns(KEY, history, "instances[0]")
    assert out["mood"].tolist() == [5.0, 6.5, 5.0, 5.0, 5.0]
    assert out["phq9"].tolist() == [10, 10, 12, 10, 10]
    assert np.isnan(out["gad7"]).all() and np.isnan(out["hrv_rmssd_ms"]).all()
    assert out["day"].dtype == np.dtype("datetime64[D]")
    assert out["key"] == KEY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({(3, "mood"): math.nan}, "instances[0].history[3].mood must be finite"),
        ({(2, "mood"): math.inf}, "instances[0].history[2].mood must be finite"),
        ({(1, "phq9"): 28}, "instances[0].history[1].phq9 must lie in [0, 27]"),
        ({(4, "steps"): -1}, "instances[0].history[4].steps must lie in"),
        ({(2, "mood"): True}, "instances[0].history[2].mood must be a number"),
        ({(0, "gad7"): "7"}, "instances[0].history[0].gad7 must be a number"),
        # the first bad value in row order wins, whichever column fails first
        ({(3, "mood"): 99, (1, "steps"): "x"}, "instances[0].history[1].steps must be a number"),
    ],
)
def test_a_bad_value_is_named_by_row_and_column(changes, message):
    with pytest.raises(InvalidInput) as caught:
        _history_columns(KEY, rows(changes=changes), "instances[0]")
    assert message in str(caught.value)


def test_days_out_of_order_are_sorted_with_their_values_and_a_repeated_day_is_refused():
    history = rows()
    history[1], history[3] = history[3], history[1]
    history[3]["mood"] = 9.0  # the row of 2025-03-02, now sent fourth
    out = _history_columns(KEY, history, "instances[0]")
    assert out["day"].tolist() == sorted(out["day"].tolist())
    assert out["mood"].tolist() == [5.0, 9.0, 5.0, 5.0, 5.0]
    history[4]["day"] = history[0]["day"]
    with pytest.raises(InvalidInput, match=r"instances\[0\].history has the same day twice"):
        _history_columns(KEY, history, "instances[0]")


def test_tensor_columns_are_checked_whole_and_name_the_first_bad_row():
    mood = np.array([5.0, 6.0, 7.0, 4.0])
    steps = np.array([100.0, 200.0, 300.0, 400.0])
    out = _checked_columns({"mood": mood, "steps": steps}, "inputs")
    assert out["mood"].tolist() == mood.tolist() and out["steps"].tolist() == steps.tolist()
    assert np.isnan(out["phq9"]).all()  # not sent: missing, not an error
    with pytest.raises(InvalidInput, match=r"inputs\.history\[2\]\.mood must be finite"):
        _checked_columns({"mood": np.array([5.0, 6.0, math.nan, 99.0])}, "inputs")
    with pytest.raises(InvalidInput, match=r"inputs\.history\[1\]\.steps must lie in"):
        mood, steps = np.array([5.0, 6.0, 99.0]), np.array([1, -5, 3.0])
        _checked_columns({"mood": mood, "steps": steps}, "inputs")


def _v2_request(keys: list[str], days: list[str], mood: list[float]) -> InferRequest:
    body = {
        "inputs": [
            {"name": "patient_key", "datatype": "BYTES", "shape": [len(keys)], "data": keys},
            {"name": "day", "datatype": "BYTES", "shape": [len(days)], "data": days},
            {"name": "mood", "datatype": "FP32", "shape": [len(mood)], "data": mood},
        ]
    }
    return InferRequest.from_inference_request(parse(json.dumps(body).encode()), "m")


def test_v2_rows_of_patients_interleaved_become_one_history_each_in_the_order_sent():
    other = "p_" + "b" * 24
    request = _v2_request(
        [other, KEY, other, KEY, other],
        ["2025-03-02", "2025-03-05", "2025-03-01", "2025-03-04", "2025-03-03"],
        [2.0, 5.0, 1.0, 4.0, 3.0],
    )
    parts = _from_v2(request)
    assert [p["key"] for p in parts] == [other, KEY]
    assert parts[0]["day"].astype(str).tolist() == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert parts[0]["mood"].tolist() == [1.0, 2.0, 3.0]
    assert parts[1]["day"].astype(str).tolist() == ["2025-03-04", "2025-03-05"]
    assert parts[1]["mood"].tolist() == [4.0, 5.0]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (["2025-03-01", "yesterday"], "inputs.history[1].day is not a date (YYYY-MM-DD)"),
        (["2025-03-01", "2025-02-30"], "inputs.history[1].day is not a date"),
        (["2025-03-01", "3025-03-01"], "must lie between 1900-01-01 and today"),
    ],
)
def test_v2_days_that_are_not_plain_past_dates_are_refused_by_row(days, message):
    request = _v2_request([KEY, KEY], days, [1.0, 2.0])
    with pytest.raises(InvalidInput) as raised:
        _from_v2(request)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("day", "kind"),
    [(20250301, "number"), (1.5e18, "number"), (True, "boolean"), (["2025-03-01"], "list")],
)
def test_a_day_that_is_not_written_as_a_date_is_refused_without_repeating_it(day, kind):
    history = rows()
    history[2]["day"] = day
    with pytest.raises(InvalidInput) as caught:
        _history_columns(KEY, history, "instances[0]")
    message = str(caught.value)
    assert message.startswith("instances[0].history[2].day must be a date written YYYY-MM-DD")
    assert kind in message and str(day) not in message


def test_a_bad_value_is_named_without_repeating_it():
    with pytest.raises(InvalidInput) as caught:
        _history_columns(KEY, rows(changes={(1, "steps"): 123456789.0}), "instances[0]")
    assert "123456789" not in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        _history_columns(KEY, rows(changes={(1, "day"): "Jane Doe"}), "instances[0]")
    assert "Jane" not in str(caught.value)
