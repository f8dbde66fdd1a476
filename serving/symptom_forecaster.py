"""KServe predictor for ``symptom-forecaster``: the champion from the MLflow registry.

Requests carry either a patient's recent daily history, or only a pseudonym whose
history the predictor reads from the encrypted store (the preprocess step). Concurrent
requests are micro-batched into one forward pass of the neural model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from typing import Any

import numpy as np
import pandas as pd
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput, ModelNotReady

from novamind_core.domain.drift import PREDICTION
from novamind_core.domain.observations import BiometricKind, Instrument
from novamind_core.infrastructure.monitoring.drift_features import last_observed_on_grid
from serving import metrics
from serving.micro_batcher import MicroBatcher

log = logging.getLogger(__name__)
NAME = "symptom-forecaster"
VALUE_COLUMNS = ("phq9", "gad7", "mood", "heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")
MAX_INSTANCES = 256


class SymptomForecasterModel(Model):
    def __init__(self, loader, history_source=None, payload_log=None, audit=None, name: str = NAME):
        """``loader() -> (bundle, version)`` loads the champion; ``history_source(key, days)``
        returns a patient's daily history from the store; ``payload_log`` records traffic;
        ``audit`` records every prediction request (who, which pseudonyms, which version)."""
        super().__init__(name)
        self.loader = loader
        self.history_source = history_source
        self.payload_log = payload_log
        self.audit = audit
        self.bundle = None
        self.version: str | None = None
        self.batcher = MicroBatcher(
            self._forecast_batch, on_batch=lambda n: metrics.BATCH_SIZE.labels(name).observe(n)
        )
        # audit entries of concurrent requests share one lock and one fsync (group commit);
        # a request is answered only after its entry is on disk
        self.audit_writer = MicroBatcher(self._audit_batch, max_size=256)

    # -- lifecycle ----------------------------------------------------------------------
    def load(self) -> bool:
        """Load (or reload) the champion; on failure keep serving what is loaded."""
        try:
            bundle, version = self.loader(self.version)
        except Exception as exc:
            log.error("could not load %s champion: %s", self.name, exc)
            return self.ready
        if bundle is None:
            if version is None:
                log.warning("%s has no champion yet; not ready", self.name)
            return self.ready
        if version != self.version:
            self.bundle, self.version = bundle, version
            metrics.SERVED_VERSION.labels(self.name).set(float(version))
            log.info("%s serving registry version %s", self.name, version)
        self.ready = True
        return True

    def get_input_types(self) -> list[dict]:
        return [
            {"name": "patient_key", "datatype": "BYTES", "shape": [-1]},
            {"name": "day", "datatype": "BYTES", "shape": [-1]},
        ] + [{"name": c, "datatype": "FP32", "shape": [-1]} for c in VALUE_COLUMNS]

    def get_output_types(self) -> list[dict]:
        return [
            {"name": "patient_key", "datatype": "BYTES", "shape": [-1]},
            {"name": "horizon", "datatype": "INT32", "shape": [-1]},
            {"name": "day", "datatype": "BYTES", "shape": [-1]},
            {"name": "median", "datatype": "FP32", "shape": [-1]},
            {"name": "lower", "datatype": "FP32", "shape": [-1]},
            {"name": "upper", "datatype": "FP32", "shape": [-1]},
        ]

    # -- request handling -------------------------------------------------------------------
    async def preprocess(self, payload, headers=None) -> dict:
        if not self.ready or self.bundle is None:
            raise ModelNotReady(self.name)
        started = time.perf_counter()
        if isinstance(payload, bytes | str):  # a body sent without a JSON content type
            try:
                payload = json.loads(payload)
            except ValueError as exc:
                raise InvalidInput(f"malformed JSON: {exc}") from None
        if isinstance(payload, InferRequest):
            parts, protocol = self._from_v2(payload), "v2"
        elif isinstance(payload, dict):
            parts, protocol = self._from_v1(payload), "v1"
        else:
            raise InvalidInput("the body must be a JSON object")
        self._check_history(parts)
        return {
            "parts": parts,
            "protocol": protocol,
            "started": started,
            "request_id": payload.id if isinstance(payload, InferRequest) else None,
        }

    async def predict(self, payload: dict, headers=None) -> dict:
        forecast, logged = await self.batcher.submit(payload["parts"])
        return {**payload, "forecast": forecast, "payload_rows": logged}

    async def postprocess(self, result: dict, headers=None, response_headers=None):
        forecast: dict[str, np.ndarray] = result["forecast"]
        if self.payload_log is not None and self.payload_log.append(
            result["payload_rows"], auto_flush=False
        ):
            await asyncio.to_thread(self.payload_log.flush)  # encrypt and write off the loop
        if self.audit is not None:
            details = {
                "subject": (headers or {}).get("x-novamind-subject", "unknown"),
                "patients": sorted(set(forecast["patient_key"].tolist())),
                "protocol": result["protocol"],
            }
            await self.audit_writer.submit(("predict", f"{self.name}/{self.version}", details))
        metrics.REQUEST_LATENCY.labels(self.name, result["protocol"]).observe(
            time.perf_counter() - result["started"]
        )
        if result["protocol"] == "v2":
            return _v2_response(self.name, self.version, forecast, result["request_id"])
        return _v1_response(self.version, forecast)

    # -- helpers --------------------------------------------------------------------------------
    def _audit_batch(self, events: list[tuple[str, str, dict]]) -> list[None]:
        self.audit.record_many(events)
        return [None] * len(events)

    def _forecast_batch(self, requests: list[list[dict]]) -> list[tuple[dict, list]]:
        """One forward pass for many requests, and the payload-log rows of each request,
        in the batcher's worker thread and in numpy throughout (no DataFrame per batch).
        Each request is a list of daily histories, one per patient (preprocess merges a
        patient sent twice), each spanning at least the model's context."""
        bundle, version = self.bundle, self.version  # one consistent model for the batch
        parts = [part for request in requests for part in request]
        out, grid = bundle.forecast_daily(parts)
        horizon = bundle.spec.horizon
        if not np.array_equal(out["index"], np.repeat(np.arange(len(parts)), horizon)):
            raise RuntimeError("a history of the batch got no forecast window")
        keys = np.array([part["key"] for part in parts], dtype=object)
        columns = {
            "patient_key": np.repeat(keys, horizon),
            "horizon": out["horizon"].astype(np.int32),
            "day": np.datetime_as_string(out["day"], unit="D").astype(object),
            **{c: out[c] for c in ("median", "lower", "upper")},
        }
        logged = (
            _payload_rows(grid, keys, out["median"][::horizon], version, bundle.spec.context_days)
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

    def _from_v1(self, payload: dict) -> list[dict]:
        instances = payload.get("instances")
        if not isinstance(instances, list):
            raise InvalidInput('expected {"instances": [...]}')
        if not instances:
            raise InvalidInput("empty batch: 'instances' holds no patient")
        if len(instances) > MAX_INSTANCES:
            raise InvalidInput(f"at most {MAX_INSTANCES} instances per request")
        parts: list[dict] = []
        for i, instance in enumerate(instances):
            if not isinstance(instance, dict) or not isinstance(instance.get("patient_key"), str):
                raise InvalidInput(f"instances[{i}] needs a string 'patient_key'")
            key = _check_key(instance["patient_key"], f"instances[{i}]")
            if "history" in instance:
                part = _history_columns(key, instance["history"], f"instances[{i}]")
            else:
                part = self._stored_history(key, f"instances[{i}]")
            parts.append(part)
        return _one_per_patient(parts)

    def _from_v2(self, request: InferRequest) -> list[dict]:
        known = {"patient_key", "day", *VALUE_COLUMNS}
        columns: dict[str, Any] = {}
        for tensor in request.inputs:
            if tensor.name not in known:
                raise InvalidInput(
                    f"unknown input tensor {tensor.name!r}; expected some of {sorted(known)}"
                )
            expected = "BYTES" if tensor.name in ("patient_key", "day") else "FP32"
            if tensor.datatype not in ((expected,) if expected == "BYTES" else ("FP32", "FP64")):
                raise InvalidInput(
                    f"input {tensor.name!r} must be {expected}, got {tensor.datatype}"
                )
            values = tensor.as_numpy().reshape(-1)
            if list(tensor.shape) != [len(values)]:
                raise InvalidInput(f"input {tensor.name!r} must be one-dimensional")
            if expected == "BYTES":
                values = [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]
            else:
                values = values.astype(float)
            columns[tensor.name] = values
        if "patient_key" not in columns:
            raise InvalidInput("missing input tensor 'patient_key'")
        keys = list(dict.fromkeys(columns["patient_key"]))  # patients in the order sent
        for key in keys:
            _check_key(key, "inputs.patient_key")
        if "day" not in columns and len(columns) > 1:
            raise InvalidInput(
                "missing input tensor 'day' (send only 'patient_key' to use the stored history)"
            )
        lengths = {name: len(v) for name, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise InvalidInput(f"input tensors differ in length: {lengths}")
        if lengths["patient_key"] == 0:
            raise InvalidInput("empty batch: the input tensors hold no rows")
        if set(columns) == {"patient_key"}:
            return [self._stored_history(k, "patient_key") for k in keys]
        numbers = {c: columns[c] for c in VALUE_COLUMNS if c in columns}
        sent = np.array(columns["patient_key"], dtype=object)
        parts = []  # one history per patient, rows in the order sent
        for key in keys:
            rows = np.flatnonzero(sent == key)
            values = _checked_columns({c: v[rows] for c, v in numbers.items()}, "inputs")
            parts.append(_history(key, [columns["day"][j] for j in rows], values, "inputs"))
        return parts

    def _stored_history(self, key: str, where: str) -> dict[str, np.ndarray]:
        if self.history_source is None:
            raise InvalidInput(f"{where}: send 'history' (this server has no patient store)")
        frame = self.history_source(key, self.bundle.spec.context_days)
        if frame is None or frame.empty:
            raise InvalidInput(f"{where}: no stored history for patient {key}")
        return {
            "key": key,
            "day": frame["day"].to_numpy("datetime64[D]"),
            **{
                c: frame[c].to_numpy(float) if c in frame else np.full(len(frame), np.nan)
                for c in VALUE_COLUMNS
            },
        }

    def _check_history(self, parts: list[dict]) -> None:
        """Every patient spans at least the model's context (parts: one patient each,
        days ascending)."""
        need = self.bundle.spec.context_days
        for part in parts:
            days = int((part["day"][-1] - part["day"][0]).astype(int)) + 1
            if days < need:
                raise InvalidInput(
                    f"patient {part['key']} has {days} days of history; "
                    f"the model needs {need} consecutive days"
                )


EARLIEST_DAY = pd.Timestamp("1900-01-01")
EARLIEST = np.datetime64("1900-01-01", "D")
PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")
VALID_RANGES = {
    **{i.value: i.score_range for i in Instrument},
    **{b.value: b.valid_range for b in BiometricKind},
}


def _check_key(key: Any, where: str) -> str:
    """Only pseudonyms travel through the server: a raw identifier is refused, not echoed."""
    if not isinstance(key, str) or not PSEUDONYM.match(key):
        raise InvalidInput(f"{where}: patient_key must be a pseudonym ('p_' + 24 hex digits)")
    return key


def _tomorrow() -> np.datetime64:
    """Tomorrow (UTC): the latest day a history may hold (days since the epoch, + 1)."""
    return np.datetime64(int(time.time() // 86400) + 1, "D")


def _day(value: Any, where: str, latest: pd.Timestamp) -> pd.Timestamp:
    """A calendar day between 1900 and ``latest``."""
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"{where} is not a date: {value!r}") from None
    if pd.isna(day):
        raise InvalidInput(f"{where} is missing")
    if day.tzinfo is not None:
        raise InvalidInput(
            f"{where} must be a calendar day (YYYY-MM-DD, UTC), not a time with an offset"
        )
    day = day.normalize()
    if not EARLIEST_DAY <= day <= latest:
        raise InvalidInput(f"{where} must lie between 1900-01-01 and today, got {day.date()}")
    return day


def _value(value: Any, column: str, where: str) -> float:
    if value is None:
        return np.nan
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise InvalidInput(f"{where} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{where} must be finite, got {number}")
    low, high = VALID_RANGES[column]
    if not low <= number <= high:
        raise InvalidInput(f"{where} must lie in [{low:g}, {high:g}], got {number:g}")
    return number


NUMBER_TYPES = frozenset((int, float, type(None)))


LOWS = np.array([VALID_RANGES[c][0] for c in VALUE_COLUMNS], dtype=float)
HIGHS = np.array([VALID_RANGES[c][1] for c in VALUE_COLUMNS], dtype=float)


def _values(history: list[dict], where: str) -> dict[str, np.ndarray]:
    """The value columns of checked rows. The whole table is checked at once (plain
    numbers or null, finite, in range); when a check fails, row by row in order, so the
    error names the first bad value exactly as a row-wise check would."""
    table = [[row.get(c) for c in VALUE_COLUMNS] for row in history]
    kinds = {type(v) for values in table for v in values}
    if all(k in NUMBER_TYPES or issubclass(k, np.integer | np.floating) for k in kinds):
        values = np.array(table, dtype=float)  # (rows, columns); null -> NaN
        bad = ~((values >= LOWS) & (values <= HIGHS))  # NaN and infinities fail too
        if not bad.any() or all(table[j][i] is None for j, i in np.argwhere(bad)):
            return dict(zip(VALUE_COLUMNS, np.ascontiguousarray(values.T), strict=True))
    for j, row in enumerate(history):
        for column in VALUE_COLUMNS:
            _value(row.get(column), column, f"{where}.history[{j}].{column}")
    raise AssertionError("the table failed the checks at once but no value failed alone")


def _history_columns(key: str, history: Any, where: str) -> dict[str, Any]:
    """One patient's checked daily rows as columns (days ascending)."""
    if not isinstance(history, list) or not history:
        raise InvalidInput(f"{where}.history must be a non-empty list of daily rows")
    allowed = {"day", "patient_key", *VALUE_COLUMNS}
    for j, row in enumerate(history):
        if not isinstance(row, dict) or "day" not in row:
            raise InvalidInput(f"{where}.history[{j}] needs a 'day'")
        if not allowed.issuperset(row):
            unknown = sorted(set(row) - allowed)
            raise InvalidInput(f"{where}.history[{j}] has unknown fields {unknown}")
    return _history(key, [row["day"] for row in history], _values(history, where), where)


def _checked_columns(given: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """One patient's value columns from whole input columns (V2 tensors): every given
    value finite and in range, absent columns missing; the error names the first bad
    value by row, as the row-wise check of a V1 history does."""
    length = len(next(iter(given.values()))) if given else 0
    table = np.full((length, len(VALUE_COLUMNS)), np.nan)
    sent = np.zeros(len(VALUE_COLUMNS), dtype=bool)
    for i, column in enumerate(VALUE_COLUMNS):
        if column in given:
            table[:, i], sent[i] = given[column], True
    bad = sent & ~((table >= LOWS) & (table <= HIGHS))
    if bad.any():
        j, i = np.argwhere(bad)[0]
        column = VALUE_COLUMNS[i]
        _value(float(table[j, i]), column, f"{where}.history[{j}].{column}")
        raise AssertionError(f"{column} failed the range check but passed the value check")
    return dict(zip(VALUE_COLUMNS, np.ascontiguousarray(table.T), strict=True))


def _history(key: str, raw_days: list, values: dict[str, np.ndarray], where: str) -> dict:
    """A patient's checked history: days parsed, unique and ascending (rows sorted)."""
    return _by_day(key, _days(raw_days, where), values, f"{where}.history has the same day twice")


def _by_day(key: str, days: np.ndarray, values: dict, repeated: str) -> dict:
    """A history with its rows in day order; ``repeated`` is the error for a day twice."""
    if not (np.diff(days.astype(np.int64)) > 0).all():  # not strictly ascending
        if len(np.unique(days)) != len(days):
            raise InvalidInput(repeated)
        order = np.argsort(days, kind="stable")
        days, values = days[order], {c: v[order] for c, v in values.items()}
    return {"key": key, "day": days, **values}


def _one_per_patient(parts: list[dict]) -> list[dict]:
    """One history per patient: a patient sent in several instances (days not
    overlapping) becomes one history, days ascending."""
    by_key: dict[str, list[dict]] = {}
    for part in parts:
        by_key.setdefault(part["key"], []).append(part)
    if len(by_key) == len(parts):
        return parts
    return [
        _by_day(
            key,
            np.concatenate([part["day"] for part in group]),
            {c: np.concatenate([part[c] for part in group]) for c in VALUE_COLUMNS},
            "a patient appears twice with overlapping days",
        )
        for key, group in by_key.items()
    ]


def _days(values: list, where: str) -> np.ndarray:
    """Parse the days at once when all are ISO dates in range; otherwise row by row, so the
    error names the first bad row."""
    latest = _tomorrow()
    text = np.asarray(values)  # only a list of strings becomes a str array
    if text.dtype.kind == "U" and text.dtype.itemsize == 40 and np.char.str_len(text).min() == 10:
        try:  # every value a 10-character string: YYYY-MM-DD or an error
            days = text.astype("datetime64[D]")
        except ValueError:
            days = None
        if days is not None and days.min() >= EARLIEST and days.max() <= latest:
            return days
    stamps = [
        _day(v, f"{where}.history[{j}].day", pd.Timestamp(latest)) for j, v in enumerate(values)
    ]
    return np.array([d.date() for d in stamps], dtype="datetime64[D]")


def _v1_response(version: str | None, forecast: dict[str, np.ndarray]) -> dict:
    keys = forecast["patient_key"].tolist()
    horizon = forecast["horizon"].tolist()
    day = forecast["day"].tolist()
    median, lower, upper = (np.round(forecast[c], 3).tolist() for c in ("median", "lower", "upper"))
    predictions: dict[str, dict] = {}
    for i, key in enumerate(keys):
        entry = predictions.get(key)
        if entry is None:
            entry = predictions[key] = {
                "patient_key": key,
                "model_version": version,
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


def _v2_response(name, version, forecast: dict[str, np.ndarray], request_id) -> InferResponse:
    def out(tensor, datatype, values: np.ndarray):
        # numpy data, converted once, when KServe writes the response (to_rest)
        return InferOutput(name=tensor, shape=[len(values)], datatype=datatype, data=values)

    return InferResponse(
        model_name=name,
        model_version=version,
        response_id=request_id or "",
        infer_outputs=[
            out("patient_key", "BYTES", forecast["patient_key"]),
            out("horizon", "INT32", forecast["horizon"]),
            out("day", "BYTES", forecast["day"]),
            out("median", "FP32", forecast["median"].astype(np.float32)),
            out("lower", "FP32", forecast["lower"].astype(np.float32)),
            out("upper", "FP32", forecast["upper"].astype(np.float32)),
        ],
    )


def _payload_rows(grid, keys, first_median, version, context_days: int) -> list[list[dict]]:
    """Per history of the batch, its payload-log row: the monitored features at the
    forecast origin (the last value observed within the context window, as in the
    training reference) and the horizon-1 median forecast."""
    features = last_observed_on_grid(grid, context_days)
    logged_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    names = list(features)
    values = np.column_stack([features[n] for n in names]).tolist()
    return [
        [
            {
                "logged_at": logged_at,
                "model_version": str(version),
                "patient_key": key,
                **dict(zip(names, row, strict=True)),
                PREDICTION: float(median),
            }
        ]
        for key, row, median in zip(keys, values, first_median, strict=True)
    ]
