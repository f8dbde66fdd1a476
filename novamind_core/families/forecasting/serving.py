"""KServe predictor of ``symptom-forecaster``: what is the forecaster's own.

A request carries, per patient, either a recent daily history or only a pseudonym whose
history is read from the encrypted store. Concurrent requests are micro-batched (by the
shared ``FamilyModel``) into one forecast of every history: the daily grid, the windows,
the Transformer decoded by ONNX Runtime and the merged XGBoost booster, in numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from kserve.errors import InvalidInput

from novamind_core.domain.drift import PREDICTION
from novamind_core.families.forecasting.drift import last_observed_on_grid
from novamind_core.families.forecasting.family import MODEL_NAME
from novamind_core.families.forecasting.variables import KEY, VARIABLES
from novamind_core.infrastructure.serving.family_model import FamilyModel, Stored
from novamind_core.infrastructure.serving.request_checks import (
    ValueColumns,
    sent_history,
    tensor_histories,
)

MARGIN_DAYS = 30  # days a history may reach back beyond the model's context


class SymptomForecasterModel(FamilyModel):
    values = ValueColumns(VARIABLES)

    def __init__(self, loader, history_source=None, payload_log=None, audit=None):
        super().__init__(MODEL_NAME, loader, history_source, payload_log, audit)

    @staticmethod
    def servable_from(python_model):
        bundle = python_model.bundle
        bundle.prepare_for_serving()  # ONNX Runtime decoding, one merged XGBoost booster
        return bundle

    def get_input_types(self) -> list[dict]:
        return [
            {"name": KEY, "datatype": "BYTES", "shape": [-1]},
            {"name": "day", "datatype": "BYTES", "shape": [-1]},
        ] + [{"name": c, "datatype": "FP32", "shape": [-1]} for c in VARIABLES]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": KEY, "datatype": "BYTES", "shape": [-1]},
            {"name": "horizon", "datatype": "INT32", "shape": [-1]},
            {"name": "day", "datatype": "BYTES", "shape": [-1]},
            {"name": "median", "datatype": "FP32", "shape": [-1]},
            {"name": "lower", "datatype": "FP32", "shape": [-1]},
            {"name": "upper", "datatype": "FP32", "shape": [-1]},
        ]

    # -- requests -> one daily history per patient --------------------------------------------
    def parse_v1(self, instances: list[tuple[str, str, dict]]) -> list:
        return [
            sent_history(key, instance["history"], where, self.values)
            if "history" in instance
            else Stored(key, where)
            for where, key, instance in instances
        ]

    def parse_v2(self, keys: list[str], columns: dict) -> list:
        if set(columns) == {KEY}:
            return [Stored(key, KEY) for key in keys]
        return tensor_histories(keys, columns, self.values)

    def combine(self, parts: list[dict]) -> list[dict]:
        return self.values.merge_patients(parts)

    def check(self, parts: list[dict]) -> None:
        """Every patient spans at least the model's context, and at most the context plus
        ``MARGIN_DAYS`` (the forecast reads only the last context days; a longer span
        only costs work: two days, 1900 and today, once meant a grid of 46,000 days)."""
        need = self.servable.spec.context_days
        most = need + MARGIN_DAYS
        for part in parts:
            days = int((part["day"][-1] - part["day"][0]).astype(int)) + 1
            if days < need:
                raise InvalidInput(
                    f"patient {part['key']} has {days} days of history; "
                    f"the model needs {need} consecutive days"
                )
            if days > most:
                raise InvalidInput(
                    f"patient {part['key']}'s history spans {days} days; send at most the "
                    f"last {most} (the model reads the last {need})"
                )

    def from_store(self, ref: Stored) -> dict:
        frame = self.stored_history(ref.key, ref.where, self.servable.spec.context_days)
        return {
            "key": ref.key,
            "day": frame["day"].to_numpy("datetime64[D]"),
            **{
                c: frame[c].to_numpy(float) if c in frame else np.full(len(frame), np.nan)
                for c in VARIABLES
            },
        }

    # -- one forecast for a batch of requests ----------------------------------------------------
    def predict_batch(self, bundle, version, requests: list[list[dict]]) -> list[tuple[dict, list]]:
        """One forward pass for many requests, and the payload-log rows of each request,
        in numpy throughout (no DataFrame per batch)."""
        parts = [part for request in requests for part in request]
        out, grid = bundle.forecast_daily(parts)
        horizon = bundle.spec.horizon
        if not np.array_equal(out["index"], np.repeat(np.arange(len(parts)), horizon)):
            raise RuntimeError("a history of the batch got no forecast window")
        keys = np.array([part["key"] for part in parts], dtype=object)
        columns = {
            KEY: np.repeat(keys, horizon),
            "horizon": out["horizon"].astype(np.int32),
            "day": np.datetime_as_string(out["day"], unit="D").astype(object),
            **{c: out[c] for c in ("median", "lower", "upper")},
        }
        logged = (
            _payload_rows(grid, keys, out["median"][::horizon], version, bundle.spec)
            if self.payload_log is not None
            else [[] for _ in parts]
        )
        results, first = [], 0
        for request in requests:
            last = first + len(request)
            rows = slice(first * horizon, last * horizon)
            results.append(
                (
                    {k: v[rows] for k, v in columns.items()},
                    [row for part_rows in logged[first:last] for row in part_rows],
                )
            )
            first = last
        return results

    def v1_response(self, version: str, answer: dict[str, np.ndarray]) -> dict:
        keys = answer[KEY].tolist()
        horizon = answer["horizon"].tolist()
        day = answer["day"].tolist()
        median, lower, upper = (
            np.round(answer[c], 3).tolist() for c in ("median", "lower", "upper")
        )
        predictions: dict[str, dict] = {}
        target = self.servable.spec.target if self.servable is not None else None
        for i, key in enumerate(keys):
            entry = predictions.get(key)
            if entry is None:
                entry = predictions[key] = {
                    KEY: key,
                    "model_version": version,
                    "target": target,
                    "interval": 0.8,
                    "forecast": [],
                }
            entry["forecast"].append(
                {
                    "horizon": horizon[i],
                    "day": day[i],
                    "median": median[i],
                    "lower": lower[i],
                    "upper": upper[i],
                }
            )
        return {"predictions": list(predictions.values())}


def _payload_rows(grid, keys, first_median, version, spec) -> list[list[dict]]:
    """Per history of the batch, its payload-log row: the monitored features at the
    forecast origin (the last value observed within the context window, as in the
    training reference) and the horizon-1 median forecast."""
    features = last_observed_on_grid(grid, spec.context_days)
    logged_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    names = list(features)
    values = np.column_stack([features[n] for n in names]).tolist()
    return [
        [
            {
                "logged_at": logged_at,
                "model_version": str(version),
                KEY: key,
                **dict(zip(names, row, strict=True)),
                PREDICTION: float(median),
            }
        ]
        for key, row, median in zip(keys, values, first_median, strict=True)
    ]
