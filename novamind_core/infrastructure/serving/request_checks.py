"""Checks every served model makes of a request: pseudonyms, days and numeric values.

A request names patients only by pseudonym (a raw identifier is refused, not echoed);
days are calendar days between 1900 and tomorrow (UTC); values are finite numbers
inside the valid range of their instrument or sensor (``domain.observations``). Values
are checked as whole arrays; when a check fails, row by row, so the error names the
first bad value exactly as a row-wise check would.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from kserve.errors import InvalidInput

from novamind_core.domain.observations import BiometricKind, Instrument

EARLIEST_DAY = pd.Timestamp("1900-01-01")
EARLIEST = np.datetime64("1900-01-01", "D")
PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")
VALID_RANGES = {
    **{i.value: i.score_range for i in Instrument},
    **{b.value: b.valid_range for b in BiometricKind},
}
NUMBER_TYPES = frozenset((int, float, type(None)))


def check_key(key: Any, where: str) -> str:
    """Only pseudonyms travel through the server: a raw identifier is refused, not echoed."""
    if not isinstance(key, str) or not PSEUDONYM.match(key):
        raise InvalidInput(f"{where}: patient_key must be a pseudonym ('p_' + 24 hex digits)")
    return key


def tomorrow() -> np.datetime64:
    """Tomorrow (UTC): the latest day a history may hold (days since the epoch, + 1)."""
    return np.datetime64(int(time.time() // 86400) + 1, "D")


def _day(value: Any, where: str, latest: pd.Timestamp) -> pd.Timestamp:
    """A calendar day between 1900 and ``latest``, written as a date (a number is not one:
    pandas would read it as nanoseconds since 1970)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a date written YYYY-MM-DD, not a {_kind(value)}")
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"{where} is not a date (YYYY-MM-DD)") from None
    if pd.isna(day):
        raise InvalidInput(f"{where} is missing")
    if day.tzinfo is not None:
        raise InvalidInput(
            f"{where} must be a calendar day (YYYY-MM-DD, UTC), not a time with an offset"
        )
    day = day.normalize()
    if not EARLIEST_DAY <= day <= latest:
        raise InvalidInput(f"{where} must lie between 1900-01-01 and today")
    return day


def _kind(value: Any) -> str:
    """What a value is, for an error message that does not repeat the value itself."""
    return {bool: "boolean", int: "number", float: "number", type(None): "null"}.get(
        type(value), "list or object" if isinstance(value, list | dict) else "value"
    )


def days(values: list, where: str) -> np.ndarray:
    """Parse the days at once when all are ISO dates in range; otherwise row by row, so
    the error names the first bad row (``<where>.history[j].day``)."""
    latest = tomorrow()
    strings = all(isinstance(v, str) for v in values)
    text = np.asarray(values) if strings else np.asarray([], dtype=object)
    if text.dtype.kind == "U" and text.dtype.itemsize == 40 and np.char.str_len(text).min() == 10:
        try:  # every value a 10-character string: YYYY-MM-DD or an error
            parsed = text.astype("datetime64[D]")
        except ValueError:
            parsed = None
        if parsed is not None and parsed.min() >= EARLIEST and parsed.max() <= latest:
            return parsed
    stamps = [
        _day(v, f"{where}.history[{j}].day", pd.Timestamp(latest)) for j, v in enumerate(values)
    ]
    return np.array([d.date() for d in stamps], dtype="datetime64[D]")


def value(number: Any, column: str, where: str) -> float:
    """One checked value of ``column``: a finite number in its valid range, or missing."""
    if number is None:
        return np.nan
    if isinstance(number, bool | np.bool_) or not isinstance(number, int | float | np.number):
        raise InvalidInput(f"{where} must be a number")
    number = float(number)
    if not math.isfinite(number):
        raise InvalidInput(f"{where} must be finite")
    low, high = VALID_RANGES[column]
    if not low <= number <= high:
        raise InvalidInput(f"{where} must lie in [{low:g}, {high:g}]")
    return number


class ValueColumns:
    """The numeric columns of a model's requests, each checked against its valid range."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.names = tuple(columns)
        self.lows = np.array([VALID_RANGES[c][0] for c in self.names], dtype=float)
        self.highs = np.array([VALID_RANGES[c][1] for c in self.names], dtype=float)

    def from_rows(self, history: list[dict], where: str) -> dict[str, np.ndarray]:
        """The value columns of a V1 history's rows (plain numbers or null, finite, in
        range), checked as one table; a bad value is named by row and column."""
        table = [[row.get(c) for c in self.names] for row in history]
        kinds = {type(v) for values in table for v in values}
        if all(k in NUMBER_TYPES or issubclass(k, np.integer | np.floating) for k in kinds):
            values = np.array(table, dtype=float)  # (rows, columns); null -> NaN
            bad = ~((values >= self.lows) & (values <= self.highs))  # NaN, infinities fail too
            if not bad.any() or all(table[j][i] is None for j, i in np.argwhere(bad)):
                return dict(zip(self.names, np.ascontiguousarray(values.T), strict=True))
        for j, row in enumerate(history):
            for column in self.names:
                value(row.get(column), column, f"{where}.history[{j}].{column}")
        raise AssertionError("the table failed the checks at once but no value failed alone")

    def from_columns(self, given: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        """One patient's value columns from whole input columns (V2 tensors): every given
        value finite and in range, absent columns missing."""
        length = len(next(iter(given.values()))) if given else 0
        table = np.full((length, len(self.names)), np.nan)
        sent = np.zeros(len(self.names), dtype=bool)
        for i, column in enumerate(self.names):
            if column in given:
                table[:, i], sent[i] = given[column], True
        bad = sent & ~((table >= self.lows) & (table <= self.highs))
        if bad.any():
            j, i = np.argwhere(bad)[0]
            column = self.names[i]
            value(float(table[j, i]), column, f"{where}.history[{j}].{column}")
            raise AssertionError(f"{column} failed the range check but passed the value check")
        return dict(zip(self.names, np.ascontiguousarray(table.T), strict=True))

    def merge_patients(self, parts: list[dict]) -> list[dict]:
        """One history per patient: a patient sent in several instances (days not
        overlapping) becomes one history, days ascending."""
        by_key: dict[str, list[dict]] = {}
        for part in parts:
            by_key.setdefault(part["key"], []).append(part)
        if len(by_key) == len(parts):
            return parts
        return [
            by_day(
                key,
                np.concatenate([part["day"] for part in group]),
                {c: np.concatenate([part[c] for part in group]) for c in self.names},
                "a patient appears twice with overlapping days",
            )
            for key, group in by_key.items()
        ]


def by_day(key: str, day: np.ndarray, values: dict, repeated: str) -> dict:
    """A history with its rows in day order; ``repeated`` is the error for a day twice."""
    if not (np.diff(day.astype(np.int64)) > 0).all():  # not strictly ascending
        if len(np.unique(day)) != len(day):
            raise InvalidInput(repeated)
        order = np.argsort(day, kind="stable")
        day, values = day[order], {c: v[order] for c, v in values.items()}
    return {"key": key, "day": day, **values}


def history(key: str, raw_days: list, values: dict[str, np.ndarray], where: str) -> dict:
    """A patient's checked history: days parsed, unique and ascending (rows sorted)."""
    return by_day(key, days(raw_days, where), values, f"{where}.history has the same day twice")


def sent_history(key: str, rows: Any, where: str, values: ValueColumns) -> dict:
    """One patient's V1 ``history``: a non-empty list of daily rows, each with a ``day``
    and no field the model does not take, as checked columns (days ascending)."""
    if not isinstance(rows, list) or not rows:
        raise InvalidInput(f"{where}.history must be a non-empty list of daily rows")
    allowed = {"day", "patient_key", *values.names}
    for j, row in enumerate(rows):
        if not isinstance(row, dict) or "day" not in row:
            raise InvalidInput(f"{where}.history[{j}] needs a 'day'")
        if not allowed.issuperset(row):
            raise InvalidInput(
                f"{where}.history[{j}] has fields this model does not take; "
                f"allowed: {sorted(allowed)}"
            )
    return history(key, [row["day"] for row in rows], values.from_rows(rows, where), where)


def tensor_histories(keys: list[str], columns: dict, values: ValueColumns) -> list[dict]:
    """One checked history per patient (in the order sent) from V2 ``day`` and value
    tensors; at least one value tensor."""
    if "day" not in columns:
        raise InvalidInput(
            "missing input tensor 'day' (send only 'patient_key' to use the stored history)"
        )
    numbers = {c: columns[c] for c in values.names if c in columns}
    if not numbers:
        raise InvalidInput(f"no value tensor: send at least one of {', '.join(values.names)}")
    sent = np.array(columns["patient_key"], dtype=object)
    parts = []
    for key in keys:
        rows = np.flatnonzero(sent == key)
        checked = values.from_columns({c: v[rows] for c, v in numbers.items()}, "inputs")
        parts.append(history(key, [columns["day"][j] for j in rows], checked, "inputs"))
    return parts
