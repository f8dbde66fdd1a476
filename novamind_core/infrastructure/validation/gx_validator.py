"""Validate raw tables with Great Expectations 1.x suites built from the data contracts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from novamind_core.domain.datasets import ValidationFailure, ValidationReport
from novamind_core.infrastructure.validation.feature_specs import ColumnSpec, TableSpec

# Names GE resolves to numpy dtypes, or to pandas extension dtypes by class name.
TYPE_LISTS = {
    "string": ["object", "str", "StringDtype"],
    "float": [
        "float64",
        "float32",
        "int64",
        "int32",
        "int16",
        "int8",
        "Float64Dtype",
        "Int64Dtype",
    ],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    "bool": ["bool", "BooleanDtype"],
}
GAP_COLUMN = "__seconds_since_previous"
FILLED_COLUMN = "__filled_values"
EXAMPLES = 5


class GreatExpectationsValidator:
    """Turns every TableSpec into an ExpectationSuite and runs it as a ValidationDefinition."""

    def __init__(self, specs: Mapping[str, TableSpec], now: datetime | None = None) -> None:
        self.specs = specs
        self.now = now or datetime.now(UTC).replace(tzinfo=None)

    def validate(
        self,
        tables: Mapping[str, pd.DataFrame],
        problems: list[ValidationFailure] | None = None,
    ) -> tuple[ValidationReport, dict[str, Any]]:
        """Validate every table present; return the readable report and GE's full JSON."""
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("raw_tables")
        failures = list(problems or [])
        full: dict[str, Any] = {}
        evaluated = 0
        for name, spec in self.specs.items():
            if name not in tables:
                continue
            frame = _with_derived_columns(tables[name], spec)
            suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_contract"))
            for expectation in self._expectations(spec, frame, tables):
                suite.add_expectation(expectation)
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(data=batch, suite=suite, name=f"validate_{name}")
            )
            result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
            full[name] = _scrubbed(result.to_json_dict(), spec)
            evaluated += len(result.results)
            failures.extend(_failures(name, spec, result))
        report = ValidationReport(
            tables_checked=tuple(t for t in self.specs if t in tables),
            expectations_evaluated=evaluated,
            failures=tuple(failures),
            row_counts={name: len(frame) for name, frame in tables.items()},
        )
        return report, full

    def _expectations(self, spec: TableSpec, frame: pd.DataFrame, tables) -> list:
        import great_expectations.expectations as gxe

        out: list = [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectTableColumnsToMatchSet(column_set=list(spec.columns), exact_match=False),
        ]
        present = [c for c in spec.columns if c in frame.columns]
        if all(c in present for c in spec.primary_key):
            if len(spec.primary_key) == 1:
                out.append(gxe.ExpectColumnValuesToBeUnique(column=spec.primary_key[0]))
            else:
                out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=spec.primary_key))
        for column in present:
            out.extend(self._column_expectations(column, spec.columns[column]))
        for column, _target in spec.references.items():
            ref_table, ref_column = spec.referenced(column)
            known = tables.get(ref_table)
            if column in present and known is not None and ref_column in known:
                values = sorted(known[ref_column].dropna().astype(str).unique().tolist())
                out.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values))
        for pair in spec.ordered_pairs:
            if pair.later in present and pair.earlier in present:
                out.append(
                    gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                        column_A=pair.later,
                        column_B=pair.earlier,
                        or_equal=True,
                        ignore_row_if="either_value_is_missing",
                    )
                )
        if GAP_COLUMN in frame:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(column=GAP_COLUMN, min_value=0, strict_min=True)
            )
        if FILLED_COLUMN in frame:
            out.append(gxe.ExpectColumnValuesToBeBetween(column=FILLED_COLUMN, min_value=1))
        return out

    def _column_expectations(self, column: str, spec: ColumnSpec) -> list:
        import great_expectations.expectations as gxe

        out: list = [
            gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=TYPE_LISTS[spec.dtype])
        ]
        if not spec.nullable:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        if spec.allowed is not None:
            out.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=spec.allowed))
        if spec.pattern is not None:
            out.append(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=spec.pattern))
        low, high = _bounds(spec, self.now)
        if low is not None or high is not None:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            )
        return out


def _bounds(spec: ColumnSpec, now: datetime) -> tuple[Any, Any]:
    if spec.dtype == "datetime":
        low = pd.Timestamp(spec.min) if spec.min is not None else None
        high = pd.Timestamp(now) if spec.not_in_future else None
        return low, high
    return spec.min, spec.max


def _with_derived_columns(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Add helper columns for checks GE has no expectation for (per-patient order, row rules)."""
    frame = frame.copy(deep=False)
    entity, time = spec.entity_column, spec.time_column
    if (
        entity
        and time
        and entity in frame
        and time in frame
        and pd.api.types.is_datetime64_any_dtype(frame[time])
    ):
        seconds = frame[time].astype("datetime64[ns]").astype("int64") / 1e9
        gap = seconds.groupby(frame[entity].to_numpy()).diff()
        frame[GAP_COLUMN] = gap.where(frame[time].notna())
    present = [c for c in spec.at_least_one_of if c in frame]
    if present:
        frame[FILLED_COLUMN] = frame[present].notna().sum(axis=1)
    return frame


_READABLE = {
    "expect_table_row_count_to_be_between": "table has at least one row",
    "expect_table_columns_to_match_set": "every declared column is present",
    "expect_column_values_to_be_unique": "values are unique",
    "expect_compound_columns_to_be_unique": "rows are unique on the primary key",
    "expect_column_values_to_be_in_type_list": "column has the declared type",
    "expect_column_values_to_not_be_null": "no missing values",
    "expect_column_values_to_be_in_set": "values are in the allowed set",
    "expect_column_values_to_match_regex": "values match the declared pattern",
    "expect_column_values_to_be_between": "values are within the allowed range",
    "expect_column_pair_values_a_to_be_greater_than_b": "later date is not before earlier date",
}


def _failures(name: str, spec: TableSpec, result) -> list[ValidationFailure]:
    out = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or kwargs.get("column_A")
        columns = kwargs.get("column_list")
        data = item.result or {}
        expectation = _READABLE.get(config.type, config.type)
        detail = _detail(config.type, kwargs, data, item.exception_info)
        if column == GAP_COLUMN:
            column, expectation = spec.time_column, "timestamps strictly increase per patient"
            detail = f"{data.get('unexpected_count')} rows are not after the patient's previous row"
        elif column == FILLED_COLUMN:
            column, expectation = None, "each row holds at least one measurement"
            detail = f"every row needs one of {spec.at_least_one_of}"
        elif config.type == "expect_column_values_to_be_in_set" and column in spec.references:
            expectation = f"values reference an existing {spec.references[column]}"
            detail = f"{data.get('unexpected_count')} rows point to no known record"
        if columns:
            column = ",".join(columns)
        hidden = any(c in spec.identifier_columns for c in (columns or [column]) if c)
        examples = None if hidden else _examples(data.get("partial_unexpected_list"))
        out.append(
            ValidationFailure(
                name, column, expectation, data.get("unexpected_count"), examples, detail
            )
        )
    return out


def _examples(values) -> tuple[str, ...] | None:
    if not values:
        return None
    shown = []
    for value in values:
        text = value if isinstance(value, str) else repr(value)
        if text not in shown:
            shown.append(str(text)[:40])
        if len(shown) == EXAMPLES:
            break
    return tuple(shown)


def _detail(kind: str, kwargs, data, exception_info) -> str:
    if _raised(exception_info):
        return "could not be evaluated (the column's type does not allow this check)"
    if kind == "expect_column_values_to_be_in_type_list":
        return f"found {data.get('observed_value')}, expected one of {kwargs.get('type_list')}"
    if kind == "expect_table_columns_to_match_set":
        missing = sorted(
            set(kwargs.get("column_set") or []) - set(data.get("observed_value") or [])
        )
        return f"missing columns: {missing}"
    if kind == "expect_table_row_count_to_be_between":
        return f"row count {data.get('observed_value')}"
    if kind == "expect_column_values_to_be_between":
        return f"allowed range [{kwargs.get('min_value')}, {kwargs.get('max_value')}]"
    if kind == "expect_column_values_to_be_in_set" and len(kwargs.get("value_set") or []) <= 20:
        return f"allowed: {kwargs.get('value_set')}"
    return ""


def _raised(exception_info) -> bool:
    if not exception_info:
        return False
    if "raised_exception" in exception_info:
        return bool(exception_info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exception_info.values())


_VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
)


def _scrubbed(full: dict, spec: TableSpec) -> dict:
    """GE's JSON without identifier values (offending examples, reference value sets)."""
    for item in full.get("results", []):
        kwargs = item.get("expectation_config", {}).get("kwargs", {})
        columns = kwargs.get("column_list") or [kwargs.get("column")]
        if any(c in spec.identifier_columns or c in spec.references for c in columns if c):
            if "value_set" in kwargs:
                kwargs["value_set"] = f"<{len(kwargs['value_set'])} known identifiers withheld>"
            for key in _VALUE_KEYS:
                (item.get("result") or {}).pop(key, None)
    return full
