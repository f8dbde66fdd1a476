"""Read and write raw source tables (Parquet, or CSV) as the data contracts type them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from novamind_core.domain.datasets import RAW_TABLES, ValidationFailure
from novamind_core.domain.errors import DataProcessingError
from novamind_core.infrastructure.validation.feature_specs import TableSpec

FORMATS = ("parquet", "csv")


@dataclass
class RawDataset:
    """Tables read from a directory, plus the problems met while reading them."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[ValidationFailure] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


class DirectoryDataSource:
    """RawDataSource adapter: the tables of one directory, typed by their contracts."""

    def __init__(self, directory: Path, specs: dict[str, TableSpec]) -> None:
        self.directory = directory
        self.specs = specs

    def read(self) -> tuple[dict[str, pd.DataFrame], list[ValidationFailure]]:
        if not self.directory.is_dir():
            raise DataProcessingError(f"dataset directory not found: {self.directory}")
        raw = read_dataset(self.directory, self.specs)
        return raw.tables, raw.problems


def write_tables(tables: dict[str, pd.DataFrame], out: Path, fmt: str = "parquet") -> list[Path]:
    """Write every table as ``<name>.<fmt>`` under ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        else:
            frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def read_dataset(directory: Path, specs: dict[str, TableSpec]) -> RawDataset:
    """Read every raw table of ``directory``; unreadable or missing tables become problems."""
    result = RawDataset()
    for name in RAW_TABLES:
        path = _find(directory, name)
        if path is None:
            result.problems.append(
                ValidationFailure(
                    name,
                    None,
                    "table_file_exists",
                    None,
                    None,
                    f"no {name}.parquet or {name}.csv in the dataset directory",
                )
            )
            continue
        result.files[name] = path
        try:
            result.tables[name] = _read(path, specs[name])
        except Exception as exc:
            result.problems.append(
                ValidationFailure(
                    name,
                    None,
                    "table_file_readable",
                    None,
                    None,
                    f"{path.name} could not be read: {type(exc).__name__}: {_first_line(exc)}",
                )
            )
    return result


def _find(directory: Path, name: str) -> Path | None:
    for fmt in FORMATS:
        path = directory / f"{name}.{fmt}"
        if path.exists():
            return path
    return None


def _read(path: Path, spec: TableSpec) -> pd.DataFrame:
    if path.suffix == ".parquet":
        frame = pq.read_table(path).to_pandas()
    else:
        frame = pd.read_csv(
            path, dtype={c: "string" for c, s in spec.columns.items() if s.dtype == "string"}
        )
    for column, col_spec in spec.columns.items():
        if column not in frame:
            continue
        if col_spec.dtype == "datetime" and frame[column].dtype == object:
            frame[column] = _maybe_datetime(frame[column])
        elif col_spec.dtype == "bool":
            frame[column] = _maybe_bool(frame[column])
        elif col_spec.dtype == "string":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _maybe_datetime(series: pd.Series) -> pd.Series:
    """Parse ISO timestamps; leave the column untouched (so it fails its type check) if not."""
    try:
        return pd.to_datetime(series, format="ISO8601")
    except (ValueError, TypeError):
        return series


def _maybe_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool or series.dtype == "boolean":
        return series
    mapping = {"true": True, "false": False, "1": True, "0": False}
    lowered = series.astype("string").str.strip().str.lower()
    if lowered.dropna().isin(list(mapping)).all():
        return lowered.map(mapping).astype("boolean")
    return series


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
