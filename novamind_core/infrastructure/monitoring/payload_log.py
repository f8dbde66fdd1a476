"""Encrypted payload log: request features and predictions, by pseudonym only.

Each flush writes one AES-GCM encrypted Parquet chunk under
``<data_dir>/payloads/<model>/``; the drift monitor reads them back with the same key.
"""

from __future__ import annotations

import io
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from novamind_core.infrastructure.store.encryption import FileCipher


class PayloadLog:
    def __init__(self, root: Path, model: str, master_key: bytes, flush_rows: int = 5000):
        self.directory = root / "payloads" / model
        self._cipher = FileCipher(master_key)
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        self.flush_rows = flush_rows

    def append(self, rows: list[dict], auto_flush: bool = True) -> bool:
        """Buffer rows; True when the buffer is full (flushed already if ``auto_flush``)."""
        with self._lock:
            self._rows.extend(rows)
            full = len(self._rows) >= self.flush_rows
        if full and auto_flush:
            self.flush()
        return full

    def flush(self) -> Path | None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet.enc"
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False), buffer)
        path = self.directory / name
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self._cipher.encrypt(buffer.getvalue(), f"payloads/{name}"))
        tmp.rename(path)
        return path

    def read_all(self) -> pd.DataFrame:
        frames = []
        for path in sorted(self.directory.glob("*.parquet.enc")):
            plain = self._cipher.decrypt(path.read_bytes(), f"payloads/{path.name}")
            frames.append(pq.read_table(io.BytesIO(plain)).to_pandas())
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def read_since(self, since: datetime | None = None) -> pd.DataFrame:
        """Every logged row, or those logged at or after ``since`` (UTC)."""
        frame = self.read_all()
        if since is None or frame.empty:
            return frame
        cut = pd.Timestamp(since)
        cut = cut.tz_convert("UTC").tz_localize(None) if cut.tzinfo else cut
        return frame[pd.to_datetime(frame["logged_at"]) >= cut].reset_index(drop=True)
