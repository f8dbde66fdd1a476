"""Typed reading and writing of the files pipeline steps hand each other.

A KFP artifact is a path; what lies there is a table (Parquet) or a small JSON document.
Every step reads and writes through these functions, so the format of an intermediate
is decided in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def write_frame(directory: Path, name: str, frame: pd.DataFrame) -> Path:
    """``frame`` as ``<directory>/<name>.parquet``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    return path


def read_frame(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(directory / f"{name}.parquet")


def write_json(path: Path, data: Any, indent: int | None = None) -> Path:
    """``data`` as JSON at ``path`` (its folder created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, default=str))
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
