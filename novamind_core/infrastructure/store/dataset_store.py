"""Encrypted, versioned dataset store, on a local folder or S3-compatible object storage.

Layout below the store's location (``StoreLocation``)::

    versions/v0001/manifest.json        plaintext: counts, fingerprint, key id, file digests
    versions/v0001/<table>.parquet.enc  AES-256-GCM of the table's Parquet bytes

A version is written under a staging name and published only when every table is
written — by renaming the folder on a local disk, by copying the objects and writing
the manifest last on object storage — so a failed write leaves no version behind, and a
version counts only with its manifest and every file it names. The staging folders of
writers that died are removed by the next write.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import uuid
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
from novamind_core.infrastructure.store.location import StoreLocation

MANIFEST = "manifest.json"
STAGING = ".staging-"
ABANDONED_AFTER_SECONDS = 24 * 3600  # a staging folder of another host, surely dead by then


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

    def __init__(self, location: StoreLocation | Path, master_key: bytes) -> None:
        if isinstance(location, Path):
            location = StoreLocation.from_uri(str(location))
        self.location = location
        self._versions = location.child("versions")
        self._cipher = FileCipher(master_key)
        self._key_id = key_id(master_key)

    def write(
        self, tables: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]
    ) -> DatasetVersion:
        self._remove_abandoned()
        version = self._next_version()
        staging = f"{STAGING}{version}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            entries = {}
            for name, frame in tables.items():
                buffer = io.BytesIO()
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
                blob = self._cipher.encrypt(buffer.getvalue(), f"{version}/{name}")
                self._versions.write_bytes(f"{staging}/{name}.parquet.enc", blob)
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
            text = json.dumps(manifest, indent=2, default=str).encode()
            self._publish(staging, version, [e["file"] for e in entries.values()], text)
        except BaseException:
            self._versions.delete(staging)
            raise
        return self._as_version(manifest)

    def _publish(self, staging: str, version: str, files: list[str], manifest: bytes) -> None:
        """The staged files as ``version``: one rename on a local disk; on object storage,
        every object copied and the manifest written last."""
        if self._versions.is_local:
            self._versions.write_bytes(f"{staging}/{MANIFEST}", manifest)
            self._versions.fs.move(
                f"{self._versions.root}/{staging}", f"{self._versions.root}/{version}"
            )
            return
        for name in files:
            self._versions.fs.copy_file(
                f"{self._versions.root}/{staging}/{name}", f"{self._versions.root}/{version}/{name}"
            )
        self._versions.write_bytes(f"{version}/{MANIFEST}", manifest)
        self._versions.delete(staging)

    def read(self, version: str, table: str) -> pd.DataFrame:
        manifest = self.manifest(version)
        if manifest["key_id"] != self._key_id:
            raise AuthenticationError(
                f"dataset {version} was encrypted with another key: check NOVAMIND_ENCRYPTION_KEY"
            )
        if table not in manifest["tables"]:
            raise NotFoundError(f"dataset {version} has no table {table!r}")
        entry = manifest["tables"][table]
        blob = self._versions.read_bytes(f"{manifest['version']}/{entry['file']}")
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise DataProcessingError(f"{version}/{table}: file does not match its manifest")
        plaintext = self._cipher.decrypt(blob, f"{manifest['version']}/{table}")
        return pq.read_table(io.BytesIO(plaintext)).to_pandas()

    def manifest(self, version: str) -> dict:
        manifests = self._manifests()
        if version == "latest":
            if not manifests:
                raise NotFoundError(
                    "the patient store holds no dataset yet: run `novamind data ingest`"
                )
            return manifests[-1]
        for manifest in manifests:
            if manifest["version"] == version:
                return manifest
        known = ", ".join(m["version"] for m in manifests) or "none"
        raise NotFoundError(f"no dataset version {version!r} (stored versions: {known})")

    def _manifests(self) -> list[dict]:
        """The manifests of complete versions: a manifest and every file it names (a
        version whose files went missing is not offered to anyone)."""
        found = []
        for name in self._versions.list():
            if name.startswith(".") or not self._versions.exists(f"{name}/{MANIFEST}"):
                continue
            manifest = json.loads(self._versions.read_bytes(f"{name}/{MANIFEST}"))
            present = set(self._versions.list(name))
            if all(e["file"] in present for e in manifest["tables"].values()):
                found.append(manifest)
        return found

    def versions(self) -> list[DatasetVersion]:
        return [self._as_version(m) for m in self._manifests()]

    def _remove_abandoned(self) -> None:
        """Remove the staging folders of writers that died (a killed ingest): on this host
        when their process is gone; from elsewhere once they are a day old."""
        from pyarrow import fs

        here = socket.gethostname()
        for name in self._versions.list():
            if not name.startswith(STAGING):
                continue
            _, host, pid, _ = name.removeprefix(STAGING).rsplit("-", 3)
            if host == here and pid.isdigit():
                dead = not alive(int(pid))
            else:
                info = self._versions.fs.get_file_info(f"{self._versions.root}/{name}")
                mtime = (
                    info.mtime.timestamp()
                    if info.type != fs.FileType.NotFound and info.mtime
                    else 0
                )
                dead = time.time() - mtime > ABANDONED_AFTER_SECONDS
            if dead:
                self._versions.delete(name)

    def latest(self) -> DatasetVersion:
        return self._as_version(self.manifest("latest"))

    def fingerprint(self, tables: Mapping[str, pd.DataFrame]) -> str:
        return fingerprint(tables)

    def find_by_fingerprint(self, fingerprint_hex: str) -> DatasetVersion | None:
        return next((v for v in self.versions() if v.fingerprint == fingerprint_hex), None)

    def _next_version(self) -> str:
        numbers = [
            int(name[1:])
            for name in self._versions.list()
            if name[:1] == "v" and name[1:].isdigit()
        ]
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
