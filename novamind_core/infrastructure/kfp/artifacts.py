"""Typed reading and writing of the files pipeline steps hand each other.

A KFP artifact is a path; what lies there is a table (Parquet) or a small JSON document.
Every step reads and writes through these functions, so the format of an intermediate
is decided in one place — and so is its protection: a table holds patient rows, so it is
written AES-GCM encrypted with the store's key (bound to its name) and readable by its
owner only; JSON marked ``sensitive`` (e.g. which patients were held out) likewise.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd


def _cipher():
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.store.encryption import FileCipher

    return FileCipher(composition.settings().require_encryption_key())


def _write_private(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    return path


def write_frame(directory: Path, name: str, frame: pd.DataFrame) -> Path:
    """``frame`` as ``<directory>/<name>.parquet.enc``."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    blob = _cipher().encrypt(buffer.getvalue(), f"kfp-artifact/{name}")
    return _write_private(directory / f"{name}.parquet.enc", blob)


def read_frame(directory: Path, name: str) -> pd.DataFrame:
    blob = (directory / f"{name}.parquet.enc").read_bytes()
    return pd.read_parquet(io.BytesIO(_cipher().decrypt(blob, f"kfp-artifact/{name}")))


def write_json(path: Path, data: Any, indent: int | None = None, sensitive: bool = False) -> Path:
    """``data`` as JSON at ``path`` (its folder created); encrypted when ``sensitive``."""
    text = json.dumps(data, indent=indent, default=str).encode()
    if sensitive:
        text = _cipher().encrypt(text, f"kfp-artifact/{path.name}")
    return _write_private(path, text)


def read_json(path: Path, sensitive: bool = False) -> Any:
    data = path.read_bytes()
    if sensitive:
        data = _cipher().decrypt(data, f"kfp-artifact/{path.name}")
    return json.loads(data)
