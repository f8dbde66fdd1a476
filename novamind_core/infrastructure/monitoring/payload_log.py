"""Encrypted payload log: request features and predictions, by pseudonym only.

Rows reach disk twice. ``commit`` appends a batch's rows to this process's journal
(one AES-GCM record, fsynced, on the server's local disk) before the requests are
answered, so an answered request's rows survive a killed process; ``flush`` writes the
buffered rows as one encrypted Parquet chunk to ``payloads/<model>/`` of the store's
location (a local folder or object storage: what the drift monitor reads) and empties
the journal. A journal left by a dead process is turned into a chunk by the next
``PayloadLog`` of the same model (``recover``); a record cut short by the kill belongs to
requests that were never answered and is dropped.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from novamind_core.domain.errors import DataProcessingError
from novamind_core.infrastructure.processes import alive
from novamind_core.infrastructure.store.encryption import FileCipher
from novamind_core.infrastructure.store.location import StoreLocation

log = logging.getLogger(__name__)
LENGTH = struct.Struct(">I")
JOURNAL_CONTEXT = "payloads/journal"


class PayloadLog:
    def __init__(
        self,
        root: StoreLocation | Path,
        model: str,
        master_key: bytes,
        flush_rows: int = 5000,
        journal_dir: Path | None = None,
    ):
        """Chunks under ``root``/payloads/``model``; the journal in ``journal_dir`` (a local
        folder; by default the chunks' folder when that is local)."""
        if isinstance(root, Path):
            root = StoreLocation.from_uri(str(root))
        self.chunks = root.child("payloads", model)
        if journal_dir is None:
            if not root.is_local:
                raise ValueError("a payload log on object storage needs a local journal_dir")
            journal_dir = Path(self.chunks.root)
        self.journal_dir = journal_dir
        self._cipher = FileCipher(master_key)
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        self.flush_rows = flush_rows
        self._journal = journal_dir / f"journal-{os.getpid()}.jnl"
        self._journal_handle = None

    # -- writing ------------------------------------------------------------------------------
    def commit(self, rows: list[dict]) -> bool:
        """Journal ``rows`` durably (one fsynced record) and buffer them; True when the
        buffer holds ``flush_rows`` or more (time to ``flush``)."""
        if not rows:
            return False
        record = self._cipher.encrypt(json.dumps(rows, default=str).encode(), JOURNAL_CONTEXT)
        with self._lock:
            handle = self._open_journal()
            handle.write(LENGTH.pack(len(record)) + record)
            handle.flush()
            os.fsync(handle.fileno())
            self._rows.extend(rows)
            return len(self._rows) >= self.flush_rows

    def append(self, rows: list[dict], auto_flush: bool = True) -> bool:
        """Buffer rows without journaling them (tools and tests); True when full."""
        with self._lock:
            self._rows.extend(rows)
            full = len(self._rows) >= self.flush_rows
        if full and auto_flush:
            self.flush()
        return full

    def flush(self) -> str | None:
        """Write the buffered rows as one encrypted chunk, then empty the journal."""
        with self._lock:
            rows, self._rows = self._rows, []
            path = self._write_chunk(rows) if rows else None
            if self._journal_handle is not None:
                self._journal_handle.truncate(0)
                self._journal_handle.flush()
                os.fsync(self._journal_handle.fileno())
        return path

    def close(self) -> None:
        """Flush, and remove this process's (now empty) journal: a clean stop."""
        self.flush()
        with self._lock:
            if self._journal_handle is not None:
                self._journal_handle.close()
                self._journal_handle = None
                self._journal.unlink(missing_ok=True)

    def _open_journal(self):
        if self._journal_handle is None:
            self.journal_dir.mkdir(parents=True, exist_ok=True)
            self._journal_handle = open(self._journal, "ab")  # noqa: SIM115 (kept open)
            os.chmod(self._journal, 0o600)
        return self._journal_handle

    def _write_chunk(self, rows: list[dict]) -> str:
        """One encrypted Parquet chunk, written whole (and on disk before the journal is
        emptied: the store location writes a temporary file and renames it, or PUTs)."""
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.parquet.enc"
        buffer = io.BytesIO()
        frame = pd.DataFrame(rows)
        if "logged_at" in frame:
            frame["logged_at"] = pd.to_datetime(frame["logged_at"])
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        self.chunks.write_bytes(name, self._cipher.encrypt(buffer.getvalue(), f"payloads/{name}"))
        if self.chunks.is_local:
            directory = os.open(self.chunks.root, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename is on disk before the journal is emptied
            finally:
                os.close(directory)
        return name

    def recover(self) -> int:
        """Turn journals left by dead processes into chunks; return the rows recovered."""
        recovered = 0
        for journal in sorted(self.journal_dir.glob("journal-*.jnl")):
            pid = journal.stem.removeprefix("journal-")
            if not pid.isdigit() or int(pid) == os.getpid() or alive(int(pid)):
                continue
            claimed = journal.with_name(f"{journal.name}.recovering-{os.getpid()}")
            try:
                journal.rename(claimed)  # one recovering process per journal
            except FileNotFoundError:
                continue
            rows = self._journal_rows(claimed)
            if rows:
                self._write_chunk(rows)
                recovered += len(rows)
            claimed.unlink()
        if recovered:
            log.warning("recovered %d payload-log rows journaled by a stopped process", recovered)
        return recovered

    def _journal_rows(self, path: Path) -> list[dict]:
        data, rows, position = path.read_bytes(), [], 0
        while position + LENGTH.size <= len(data):
            (size,) = LENGTH.unpack_from(data, position)
            record = data[position + LENGTH.size : position + LENGTH.size + size]
            if len(record) < size:
                break  # cut short by the kill: its requests were never answered
            try:
                rows.extend(json.loads(self._cipher.decrypt(record, JOURNAL_CONTEXT)))
            except DataProcessingError:
                log.error("a payload journal record failed its integrity check; skipped")
            position += LENGTH.size + size
        return rows

    # -- reading ------------------------------------------------------------------------------
    def read_all(self) -> pd.DataFrame:
        frames = []
        for name in self.chunks.list():
            if not name.endswith(".parquet.enc"):
                continue
            plain = self._cipher.decrypt(self.chunks.read_bytes(name), f"payloads/{name}")
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
