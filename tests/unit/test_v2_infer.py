"""The V2 infer route's body parser: a valid request parses, anything else is a 400 naming
where and what."""

import json

import pytest
from kserve.errors import InvalidInput

from novamind_core.infrastructure.serving.routes import parse


def test_a_valid_request_parses_with_its_tensors():
    request = parse(
        b'{"id": "r1", "inputs": [{"name": "mood", "datatype": "FP32", "shape": [2],'
        b' "data": [5.0, 6.5]}]}'
    )
    assert request.id == "r1"
    assert [(t.name, t.datatype, t.shape, t.data) for t in request.inputs] == [
        ("mood", "FP32", [2], [5.0, 6.5])
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"inputs": [', "not a V2 inference request: Invalid JSON: EOF while parsing"),
        (b"[]", "not a V2 inference request: Input should be an object"),
        (b'{"id": "x"}', "inputs: Field required"),
        (
            b'{"inputs": [{"name": "mood", "shape": [1], "data": [1.0]}]}',
            "inputs.0.datatype: Field required",
        ),
        (b'{"id": 7, "inputs": []}', "id: Input should be a valid string"),
    ],
)
def test_a_bad_body_is_invalid_input_that_names_the_problem(body, message):
    with pytest.raises(InvalidInput) as raised:
        parse(body)
    assert message in str(raised.value)


def test_at_most_five_problems_are_listed():
    tensors = [{"name": f"t{i}"} for i in range(10)]  # each lacks datatype, shape, data
    with pytest.raises(InvalidInput) as raised:
        parse(json.dumps({"inputs": tensors}).encode())
    assert str(raised.value).count(": Field required") == 5
