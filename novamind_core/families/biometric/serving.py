"""KServe predictor of ``biometric-correlator``: what is the correlator's own.

A request carries, per patient, either a daily history of wearables and symptoms or only
a pseudonym whose history (the last ``STORED_DAYS`` days, or its ``lookback_days``) is
read from the encrypted store. Each patient's answer is that patient's
``BiometricCorrelationResult``: every lead–lag test with q-values over the patient's own
tests, the directed edges, and what was excluded and why; and, when the version carries
a symptom predictor, the next ``HORIZON`` days' PHQ-9, GAD-7 and mood (median and 80%
interval) from the last ``LOOKBACK`` days, with ``temporal_patterns``: per prediction,
the days the predictor attended to and the signals that weighed on them. A history the
predictor cannot use (fewer than ``MIN_HISTORY_DAYS`` days with a record, every wearable
missing, no self-report) is refused with a 400 that says which. Concurrent requests are
batched into one engine pass and one predictor pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from kserve.errors import InvalidInput

from novamind_core.domain.drift import PREDICTION
from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.analysis import analyses_per_patient
from novamind_core.families.biometric.family import MODEL_NAME
from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGETS,
    check_history,
    windows_from,
)
from novamind_core.families.biometric.signals import KEY, SIGNALS
from novamind_core.infrastructure.serving.family_model import FamilyModel, Stored
from novamind_core.infrastructure.serving.request_checks import (
    ValueColumns,
    sent_history,
    tensor_histories,
)

TOP_DAYS = 3  # per prediction, the days with the most attention
TOP_SIGNALS = 3  # and the signals that weighed most on them
STORED_DAYS = 365  # of a stored patient's history, the last this many days are analysed
MAX_SPAN_DAYS = 730  # a sent history may span at most this many days
TESTS = {
    KEY: "BYTES",
    "biometric": "BYTES",
    "symptom": "BYTES",
    "lag_days": "INT32",
    "coefficient": "FP64",
    "ci_low": "FP64",
    "ci_high": "FP64",
    "p_value": "FP64",
    "q_value": "FP64",
    "n_pairs": "INT32",
    "n_effective": "FP64",
    "significant": "BOOL",
    "clinically_relevant": "BOOL",
}
EDGES = {
    "edge_patient_key": "BYTES",
    "edge_biometric": "BYTES",
    "edge_symptom": "BYTES",
    "edge_lag_days": "INT32",
    "edge_relation": "BYTES",
    "edge_strength": "FP64",
    "edge_p_value": "FP64",
    "edge_q_value": "FP64",
    "edge_n_obs": "INT32",
}
EXCLUSIONS = {
    "exclusion_patient_key": "BYTES",
    "exclusion_scope": "BYTES",
    "exclusion_reason": "BYTES",
    "exclusion_count": "INT32",
    "exclusion_detail": "BYTES",
}
FORECASTS = {
    "forecast_patient_key": "BYTES",
    "forecast_symptom": "BYTES",
    "forecast_horizon_days": "INT32",
    "forecast_target_day": "BYTES",
    "forecast_median": "FP64",
    "forecast_lower": "FP64",
    "forecast_upper": "FP64",
}
PATTERN_DAYS = {
    "pattern_patient_key": "BYTES",
    "pattern_symptom": "BYTES",
    "pattern_horizon_days": "INT32",
    "pattern_day": "BYTES",
    "pattern_days_before_target": "INT32",
    "pattern_weight": "FP64",
}
PATTERN_SIGNALS = {
    "signal_patient_key": "BYTES",
    "signal_symptom": "BYTES",
    "signal_horizon_days": "INT32",
    "signal_name": "BYTES",
    "signal_weight": "FP64",
}
OUTPUTS = {**TESTS, **EDGES, **EXCLUSIONS, **FORECASTS, **PATTERN_DAYS, **PATTERN_SIGNALS}
NUMPY = {"BYTES": object, "INT32": np.int32, "FP32": np.float32, "FP64": np.float64, "BOOL": bool}


class BiometricCorrelatorModel(FamilyModel):
    values = ValueColumns(SIGNALS)
    max_instances = 32  # each patient's analysis: 96 tests and 96 regressions at max_lag 7

    def __init__(self, loader, history_source=None, payload_log=None, audit=None):
        super().__init__(MODEL_NAME, loader, history_source, payload_log, audit)

    def get_input_types(self) -> list[dict]:
        return [
            {"name": KEY, "datatype": "BYTES", "shape": [-1]},
            {"name": "day", "datatype": "BYTES", "shape": [-1]},
        ] + [{"name": c, "datatype": "FP32", "shape": [-1]} for c in SIGNALS]

    def get_output_types(self) -> list[dict]:
        return [{"name": name, "datatype": kind, "shape": [-1]} for name, kind in OUTPUTS.items()]

    # -- requests -> one daily history per patient ----------------------------------------
    def parse_v1(self, instances: list[tuple[str, str, dict]]) -> list:
        return [
            sent_history(key, instance["history"], where, self.values)
            if "history" in instance
            else Stored(key, where, _lookback(instance, where))
            for where, key, instance in instances
        ]

    def parse_v2(self, keys: list[str], columns: dict) -> list:
        if set(columns) == {KEY}:
            return [Stored(key, KEY) for key in keys]
        return tensor_histories(keys, columns, self.values)

    def combine(self, parts: list[dict]) -> list[dict]:
        return self.values.merge_patients(parts)

    def check(self, parts: list[dict]) -> None:
        for part in parts:
            span = int((part["day"][-1] - part["day"][0]).astype(int)) + 1
            if span > MAX_SPAN_DAYS:
                raise InvalidInput(
                    f"patient {part['key']}'s history spans {span} days; send at most "
                    f"{MAX_SPAN_DAYS}"
                )
            try:
                check_history(_last_window(part), f"patient {part['key']}'s history")
            except ValidationError as error:
                raise InvalidInput(str(error)) from None

    def from_store(self, ref: Stored) -> dict:
        frame = self.stored_history(ref.key, ref.where, ref.days or STORED_DAYS)
        return {
            "key": ref.key,
            "day": frame["day"].to_numpy("datetime64[D]"),
            **{c: frame[c].to_numpy(float) for c in SIGNALS},
        }

    # -- one engine pass for a batch of requests ------------------------------------------
    def predict_batch(self, servable, version, requests: list[list[dict]]) -> list[tuple]:
        parts = [part for request in requests for part in request]
        ids = [f"{i:06d}" for i in range(len(parts))]  # a patient may be in two requests
        frame = pd.concat(
            [
                pd.DataFrame({KEY: i, "day": part["day"], **{c: part[c] for c in SIGNALS}})
                for i, part in zip(ids, parts, strict=True)
            ],
            ignore_index=True,
        )
        from novamind_core.families.biometric.alignment import AlignedCohort

        cohort = AlignedCohort.from_frame(frame)
        analyses = analyses_per_patient(cohort, servable.settings)
        by_id = {a.patient: a for a in analyses}
        forecasts = _forecasts(getattr(servable, "predictor", None), cohort)
        answers = [
            {**_columns(part["key"], by_id[i]), **forecasts(i, part["key"])}
            for i, part in zip(ids, parts, strict=True)
        ]
        logged = [
            _payload_row(part, answer, version) for part, answer in zip(parts, answers, strict=True)
        ]
        results, first = [], 0
        for request in requests:
            last = first + len(request)
            merged = {
                name: np.concatenate([a[name] for a in answers[first:last]])
                for name in answers[first]
            }
            results.append((merged, logged[first:last] if self.payload_log else []))
            first = last
        return results

    def answered_patients(self, answer: dict[str, np.ndarray]) -> list[str]:
        """Every patient asked about, with or without a computed test."""
        return sorted(set(answer["asked"].tolist()))

    def v1_response(self, version: str, answer: dict[str, np.ndarray]) -> dict:
        out: dict[str, dict] = {}
        for key in dict.fromkeys(
            answer[KEY].tolist()
            + answer["edge_patient_key"].tolist()
            + answer["exclusion_patient_key"].tolist()
            + answer["forecast_patient_key"].tolist()
        ):
            out[key] = {
                KEY: key,
                "model_version": version,
                "tests": 0,
                "correlation_strength": [],
                "forecast": [],
                "temporal_patterns": [],
                "causal_graph": [],
                "exclusions": [],
            }
        tests = _rows(answer, TESTS, "")
        for row in tests:
            entry = out[row[KEY]]
            entry["tests"] += 1
            if row["significant"]:
                entry["correlation_strength"].append({k: v for k, v in row.items() if k != KEY})
        for entry in out.values():
            entry["correlation_strength"].sort(key=lambda r: -abs(r["coefficient"]))
        for row in _rows(answer, EDGES, "edge_"):
            out[row.pop(KEY)]["causal_graph"].append(row)
        for row in _rows(answer, EXCLUSIONS, "exclusion_"):
            out[row.pop(KEY)]["exclusions"].append(row)
        _v1_forecasts(out, answer)
        return {"predictions": list(out.values())}


def _lookback(instance: dict, where: str) -> int | None:
    """The days of a stored patient's history to analyse, when the instance says
    (``lookback_days``: from the predictor's 28-day window up to ``STORED_DAYS``)."""
    days = instance.get("lookback_days")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidInput(f"{where}.lookback_days must be a whole number of days")
    if not LOOKBACK <= days <= STORED_DAYS:
        raise InvalidInput(f"{where}.lookback_days must lie between {LOOKBACK} and {STORED_DAYS}")
    return days


def _last_window(part: dict) -> np.ndarray:
    """(LOOKBACK, V): the part's values over the ``LOOKBACK`` days up to its last day."""
    x = np.full((LOOKBACK, len(SIGNALS)), np.nan)
    position = (part["day"] - part["day"][-1]).astype(int) + LOOKBACK - 1
    inside = position >= 0
    for v, name in enumerate(SIGNALS):
        x[position[inside], v] = part[name][inside]
    return x


def _forecasts(predictor, cohort):
    """``columns(id, key)``: the forecast and pattern tensors of batch member ``id``
    (empty when the served version has no predictor)."""
    from novamind_core.families.biometric.served_predictor import explain

    names = {**FORECASTS, **PATTERN_DAYS, **PATTERN_SIGNALS}
    if predictor is None:
        empty = {name: np.array([], dtype=NUMPY[kind]) for name, kind in names.items()}
        return lambda _id, _key: empty
    windows = windows_from(cohort, need_target=False, origins="last")
    explained = explain(predictor, windows)
    row_of = {k: i for i, k in enumerate(windows.keys)}
    top_days = np.argsort(-explained.attention, axis=-1, kind="stable")[..., :TOP_DAYS]
    top_signals = np.argsort(-explained.signals, axis=-1, kind="stable")[..., :TOP_SIGNALS]
    input_days = windows.days()

    def columns(member: str, key: str) -> dict[str, np.ndarray]:
        r = row_of[member]
        h, s = np.meshgrid(np.arange(HORIZON), np.arange(len(TARGETS)), indexing="ij")
        h, s = h.ravel(), s.ravel()  # every (horizon, symptom)
        target = windows.origin[r] + (h + 1).astype("timedelta64[D]")
        out = {
            "forecast_patient_key": np.full(len(h), key, dtype=object),
            "forecast_symptom": np.array([TARGETS[i] for i in s], dtype=object),
            "forecast_horizon_days": (h + 1).astype(np.int32),
            "forecast_target_day": np.array([str(d) for d in target], dtype=object),
            "forecast_median": explained.forecast.median[r, h, s].astype(np.float64),
            "forecast_lower": explained.forecast.lower[r, h, s].astype(np.float64),
            "forecast_upper": explained.forecast.upper[r, h, s].astype(np.float64),
        }
        days = top_days[r, h, s]  # (H·S, TOP_DAYS)
        weight = np.take_along_axis(explained.attention[r, h, s], days, axis=1)
        dh, ds = np.repeat(h, TOP_DAYS), np.repeat(s, TOP_DAYS)
        out.update(
            {
                "pattern_patient_key": np.full(days.size, key, dtype=object),
                "pattern_symptom": np.array([TARGETS[i] for i in ds], dtype=object),
                "pattern_horizon_days": (dh + 1).astype(np.int32),
                "pattern_day": np.array([str(input_days[r, i]) for i in days.ravel()], object),
                "pattern_days_before_target": (LOOKBACK - days.ravel() + dh).astype(np.int32),
                "pattern_weight": weight.ravel().astype(np.float64),
            }
        )
        chosen = top_signals[r, h, s]
        signal_weight = np.take_along_axis(explained.signals[r, h, s], chosen, axis=1)
        sh, ss = np.repeat(h, TOP_SIGNALS), np.repeat(s, TOP_SIGNALS)
        out.update(
            {
                "signal_patient_key": np.full(chosen.size, key, dtype=object),
                "signal_symptom": np.array([TARGETS[i] for i in ss], dtype=object),
                "signal_horizon_days": (sh + 1).astype(np.int32),
                "signal_name": np.array([SIGNALS[i] for i in chosen.ravel()], dtype=object),
                "signal_weight": signal_weight.ravel().astype(np.float64),
            }
        )
        return out

    return columns


def _v1_forecasts(out: dict[str, dict], answer: dict) -> None:
    """The forecast rows and, per prediction, its days and signals (``temporal_patterns``)."""
    patterns: dict[tuple, dict] = {}
    for row in _rows(answer, FORECASTS, "forecast_"):
        key = row.pop(KEY)
        out[key]["forecast"].append(row)
        pattern = {
            "symptom": row["symptom"],
            "horizon_days": row["horizon_days"],
            "target_day": row["target_day"],
            "days": [],
            "signals": [],
        }
        patterns[(key, row["symptom"], row["horizon_days"])] = pattern
        out[key]["temporal_patterns"].append(pattern)
    for row in _rows(answer, PATTERN_DAYS, "pattern_"):
        key = (row.pop(KEY), row.pop("symptom"), row.pop("horizon_days"))
        patterns[key]["days"].append(row)
    for row in _rows(answer, PATTERN_SIGNALS, "signal_"):
        key = (row.pop(KEY), row.pop("symptom"), row.pop("horizon_days"))
        patterns[key]["signals"].append({"signal": row["name"], "weight": row["weight"]})


def _rows(answer: dict, names: dict, prefix: str) -> list[dict]:
    """Rows of one output table as plain JSON values (prefix dropped, floats rounded)."""
    columns = {}
    for name, kind in names.items():
        values = answer[name]
        plain = name[len(prefix) :] if name != KEY and prefix else name
        plain = KEY if plain == "patient_key" else plain
        if kind.startswith("FP") and plain.endswith(("p_value", "q_value")):
            # significant figures: 1e-44 is a result, not 0 (V2 sends it whole)
            columns[plain] = [float(f"{v:.6g}") for v in values.astype(float)]
        elif kind.startswith("FP"):
            columns[plain] = np.round(values.astype(float), 6).tolist()
        else:
            columns[plain] = values.tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _columns(key: str, analysis) -> dict[str, np.ndarray]:
    """One patient's answer as output columns (every declared tensor present)."""
    tests, edges = analysis.tests, analysis.directed.edges
    n = len(tests)
    out = {KEY: np.full(n, key, dtype=object)}
    for name in list(TESTS)[1:]:
        out[name] = tests[name].to_numpy().astype(NUMPY[TESTS[name]])
    out["edge_patient_key"] = np.full(len(edges), key, dtype=object)
    for name in list(EDGES)[1:]:
        column = edges[name.removeprefix("edge_")].to_numpy()
        out[name] = column.astype(NUMPY[EDGES[name]])
    excluded = analysis.exclusions
    out["exclusion_patient_key"] = np.full(len(excluded), key, dtype=object)
    out["exclusion_scope"] = np.array([e.scope for e in excluded], dtype=object)
    out["exclusion_reason"] = np.array([e.reason for e in excluded], dtype=object)
    out["exclusion_count"] = np.array([e.count for e in excluded], dtype=np.int32)
    out["exclusion_detail"] = np.array([e.detail for e in excluded], dtype=object)
    out["asked"] = np.array([key], dtype=object)  # not a tensor: who the answer is about
    return out


def _payload_row(part: dict, answer: dict, version) -> dict:
    """What the payload log keeps of one patient's request: the span and the share of
    days each signal was recorded, and the number of significant relations."""
    recorded = {f"{c}_recorded_share": float(np.mean(~np.isnan(part[c]))) for c in SIGNALS}
    return {
        "logged_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "model_version": str(version),
        KEY: part["key"],
        "days": len(part["day"]),
        **recorded,
        PREDICTION: float(answer["significant"].sum()),
    }
