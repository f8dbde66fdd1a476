"""Encrypted, versioned dataset store on the local filesystem.

Layout::

    <root>/versions/v0001/manifest.json        plaintext: counts, fingerprint, key id
    <root>/versions/v0001/<table>.parquet.enc  AES-256-GCM of the table's Parquet bytes

A version is written into a hidden temporary directory and renamed into place only
when every table is written, so a failed write leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from novamind_core.domain.datasets import DatasetVersion
from novamind_core.domain.errors import AuthenticationError, DataProcessingError, NotFoundError
from novamind_core.infrastructure.processes import alive
from novamind_core.infrastructure.store.encryption import FileCipher
from novamind_core.infrastructure.store.keys import key_id

MANIFEST = "manifest.json"


def fingerprint(tables: Mapping[str, pd.DataFrame]) -> str:
    """sha256 over table names, column names/dtypes and row hashes: content, not bytes."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        digest.update(name.encode())
        digest.update(json.dumps([[c, str(t)] for c, t in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class EncryptedDatasetStore:
    """PatientDataStore adapter: immutable, encrypted dataset versions."""

    def __init__(self, root: Path, master_key: bytes) -> None:
        self.root = root
        self._cipher = FileCipher(master_key)
        self._key_id = key_id(master_key)

    @property
    def _versions_dir(self) -> Path:
        return self.root / "versions"

    def write(
        self, tables: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]
    ) -> DatasetVersion:
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned()
        version = self._next_version()
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-{os.getpid()}-", dir=self._versions_dir))
        try:
            entries = {}
            for name, frame in tables.items():
                buffer = io.BytesIO()
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
                blob = self._cipher.encrypt(buffer.getvalue(), f"{version}/{name}")
                (tmp / f"{name}.parquet.enc").write_bytes(blob)
                entries[name] = {
                    "file": f"{name}.parquet.enc",
                    "rows": len(frame),
                    "columns": list(frame.columns),
                    "sha256": hashlib.sha256(blob).hexdigest(),
                }
            created = datetime.now(UTC)
            manifest = {
                "version": version,
                "created_at": created.isoformat(),
                "fingerprint": fingerprint(tables),
                "cipher": "AES-256-GCM",
                "key_id": self._key_id,
                "tables": entries,
                "metadata": dict(metadata),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), "utf-8")
            os.rename(tmp, self._versions_dir / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._as_version(manifest)

    def read(self, version: str, table: str) -> pd.DataFrame:
        manifest = self.manifest(version)
        if manifest["key_id"] != self._key_id:
            raise AuthenticationError(
                f"dataset {version} was encrypted with another key: check NOVAMIND_ENCRYPTION_KEY"
            )
        if table not in manifest["tables"]:
            raise NotFoundError(f"dataset {version} has no table {table!r}")
        entry = manifest["tables"][table]
        blob = (self._versions_dir / version / entry["file"]).read_bytes()
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise DataProcessingError(f"{version}/{table}: file does not match its manifest")
        plaintext = self._cipher.decrypt(blob, f"{version}/{table}")
        return pq.read_table(io.BytesIO(plaintext)).to_pandas()

    def manifest(self, version: str) -> dict:
        if version == "latest":
            version = self.latest().version
        path = self._versions_dir / version / MANIFEST
        if not path.exists() or version not in {v.version for v in self.versions()}:
            known = ", ".join(v.version for v in self.versions()) or "none"
            raise NotFoundError(f"no dataset version {version!r} (stored versions: {known})")
        return json.loads(path.read_text("utf-8"))

    def versions(self) -> list[DatasetVersion]:
        """The complete versions: a manifest and every file it names (a version whose
        files went missing is not offered to anyone)."""
        if not self._versions_dir.exists():
            return []
        found = []
        for folder in sorted(self._versions_dir.iterdir()):
            if folder.name.startswith(".") or not (folder / MANIFEST).exists():
                continue
            manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
            if all((folder / e["file"]).exists() for e in manifest["tables"].values()):
                found.append(self._as_version(manifest))
        return found

    def _remove_abandoned(self) -> None:
        """Remove the half-written folders of writes whose process died (a killed ingest):
        they hold encrypted tables no manifest will ever name."""
        for folder in self._versions_dir.glob(".v*-*-*"):
            pid = folder.name.split("-")[1]
            if pid.isdigit() and not alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

    def latest(self) -> DatasetVersion:
        versions = self.versions()
        if not versions:
            raise NotFoundError(
                "the patient store holds no dataset yet: run `novamind data ingest`"
            )
        return versions[-1]

    def fingerprint(self, tables: Mapping[str, pd.DataFrame]) -> str:
        return fingerprint(tables)

    def find_by_fingerprint(self, fingerprint_hex: str) -> DatasetVersion | None:
        return next((v for v in self.versions() if v.fingerprint == fingerprint_hex), None)

    def _next_version(self) -> str:
        numbers = [int(v.version[1:]) for v in self.versions()]
        return f"v{max(numbers, default=0) + 1:04d}"

    @staticmethod
    def _as_version(manifest: dict) -> DatasetVersion:
        return DatasetVersion(
            version=manifest["version"],
            fingerprint=manifest["fingerprint"],
            created_at=datetime.fromisoformat(manifest["created_at"]),
            row_counts={k: v["rows"] for k, v in manifest["tables"].items()},
            patients=int(manifest["metadata"].get("patients", 0)),
        )
