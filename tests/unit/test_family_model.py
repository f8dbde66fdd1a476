"""The shared serving kit on a toy family: dispatch, shared checks and bounds, store reads
off the event loop, micro-batched predictions, V2 answers from the declared outputs."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pandas as pd
import pytest
from kserve import InferRequest
from kserve.errors import InvalidInput

from novamind_core.infrastructure.serving.family_model import FamilyModel, Stored
from novamind_core.infrastructure.serving.routes import parse
from novamind_core.infrastructure.serving.stored_tables import StoredTables

KEYS = [f"p_{i:024x}" for i in range(1, 4)]


class Doubler(FamilyModel):
    """A toy family: each patient sends a number (or has one stored); the answer doubles it."""

    max_instances = 3
    max_rows = 5

    def __init__(self, store: dict[str, float] | None = None):
        super().__init__("doubler", loader=lambda current: (2.0, "7"))
        self.store = store or {}
        self.store_threads: list[int] = []

    def get_input_types(self):
        return [
            {"name": "patient_key", "datatype": "BYTES", "shape": [-1]},
            {"name": "x", "datatype": "FP32", "shape": [-1]},
        ]

    def get_output_types(self):
        return [
            {"name": "patient_key", "datatype": "BYTES", "shape": [-1]},
            {"name": "y", "datatype": "FP32", "shape": [-1]},
        ]

    def parse_v1(self, instances):
        return [
            (key, float(i["x"])) if "x" in i else Stored(key, where) for where, key, i in instances
        ]

    def parse_v2(self, keys, columns):
        if set(columns) == {"patient_key"}:
            return [Stored(key, "inputs") for key in keys]
        return list(zip(columns["patient_key"], columns["x"], strict=True))

    def from_store(self, ref):
        self.store_threads.append(threading.get_ident())
        if ref.key not in self.store:
            raise InvalidInput(f"{ref.where}: no stored value")
        return ref.key, self.store[ref.key]

    def predict_batch(self, factor, version, requests):
        return [
            (
                {
                    "patient_key": np.array([k for k, _ in parts], dtype=object),
                    "y": np.array([factor * x for _, x in parts]),
                },
                [{"patient_key": k, "version": version} for k, _ in parts],
            )
            for parts in requests
        ]

    def v1_response(self, version, answer):
        return {"version": version, "y": answer["y"].tolist()}


def serve(model: FamilyModel, payload):
    async def run():
        model.load()
        loop_thread = threading.get_ident()
        request = await model.preprocess(payload)
        result = await model.postprocess(await model.predict(request))
        return result, loop_thread

    return asyncio.run(run())


def v2(inputs: list[dict]) -> InferRequest:
    body = {"inputs": inputs}
    return InferRequest.from_inference_request(parse(json.dumps(body).encode()), "doubler")


def test_v1_and_v2_reach_the_same_prediction():
    answer, _ = serve(Doubler(), {"instances": [{"patient_key": KEYS[0], "x": 2.5}]})
    assert answer == {"version": "7", "y": [5.0]}
    response, _ = serve(
        Doubler(),
        v2(
            [
                {"name": "patient_key", "datatype": "BYTES", "shape": [2], "data": KEYS[:2]},
                {"name": "x", "datatype": "FP64", "shape": [2], "data": [1.0, 4.0]},
            ]
        ),
    )
    outputs = {o.name: (o.datatype, o.data) for o in response.outputs}
    assert outputs["y"][0] == "FP32" and list(outputs["y"][1]) == [2.0, 8.0]
    assert response.model_version == "7"


def test_store_reads_run_outside_the_event_loop_thread():
    model = Doubler(store={KEYS[1]: 10.0})
    answer, loop_thread = serve(model, {"instances": [{"patient_key": KEYS[1]}]})
    assert answer["y"] == [20.0]
    assert model.store_threads and loop_thread not in model.store_threads


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"instances": [{"patient_key": k, "x": 1} for k in KEYS * 2]}, "at most 3 instances"),
        (
            {"instances": [{"patient_key": KEYS[0], "history": [{}] * 6}]},
            "at most 5 history rows per request",
        ),
        ({"instances": [{"patient_key": "Jane Doe", "x": 1}]}, "must be a pseudonym"),
        ({"instances": "all"}, 'expected {"instances": [...]}'),
        (b"[" * 3000 + b"]" * 3000, "the body is not valid JSON"),
    ],
)
def test_shared_checks_and_bounds_of_v1(payload, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        serve(Doubler(), payload)


def test_v1_and_v2_share_the_patient_cap():
    four = [f"p_{i:024x}" for i in range(1, 5)]
    with pytest.raises(InvalidInput, match="at most 3 patients per request"):
        serve(
            Doubler(),
            v2([{"name": "patient_key", "datatype": "BYTES", "shape": [4], "data": four}]),
        )


def test_ragged_v2_data_is_a_bad_request_not_a_crash():
    with pytest.raises(InvalidInput, match="do not fit its shape and datatype"):
        serve(
            Doubler(),
            v2(
                [
                    {"name": "patient_key", "datatype": "BYTES", "shape": [2], "data": KEYS[:2]},
                    {"name": "x", "datatype": "FP32", "shape": [2], "data": [[1.0], 2.0]},
                ]
            ),
        )


class FakeStore:
    def __init__(self, frames):
        self.frames, self.reads = frames, 0

    def latest(self):
        return type("Version", (), {"version": "v0001"})()

    def read(self, version, table):
        self.reads += 1
        return self.frames[table]


def test_stored_tables_read_once_per_version_and_find_a_patient_by_index():
    frame = pd.DataFrame({"patient_key": ["a", "b", "a", "c"], "x": [1, 2, 3, 4]})
    store = FakeStore({"t": frame})
    tables = StoredTables(store, ["t"])
    version, rows = tables.rows("a")
    assert version == "v0001" and rows["t"]["x"].tolist() == [1, 3]
    assert tables.rows("zzz")[1]["t"].empty
    assert store.reads == 1
