"""The training reference of a model version: what its inputs and outputs looked like.

Each family builds its own (the monitored features and the model's prediction at a
sample of training examples; no pseudonym, no date); here it is stored AES-GCM encrypted
with the platform key as an MLflow artifact of the registered version, and read back.
The encryption is bound to the model and version it describes (its associated data):
a reference copied onto another version does not decrypt there. Before registration it
is bound to "unregistered"; registration re-binds it to the new version.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from novamind_core.domain.errors import NotFoundError
from novamind_core.infrastructure.store.encryption import FileCipher

ARTIFACT_DIR = "drift_reference"
ARTIFACT_NAME = "reference.parquet.enc"


def _context(name: str | None, version: str | None) -> str:
    return f"drift_reference/{name}/{version}" if name else "drift_reference/unregistered"


def encrypt_reference(
    frame: pd.DataFrame, key: bytes, name: str | None = None, version: str | None = None
) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return FileCipher(key).encrypt(buffer.getvalue(), _context(name, version))


def decrypt_reference(
    blob: bytes, key: bytes, name: str | None = None, version: str | None = None
) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(FileCipher(key).decrypt(blob, _context(name, version))))


def write_reference(
    frame: pd.DataFrame,
    directory: Path,
    key: bytes,
    name: str | None = None,
    version: str | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ARTIFACT_NAME
    path.write_bytes(encrypt_reference(frame, key, name, version))
    os.chmod(path, 0o600)
    return path


def bind_reference(directory: Path, key: bytes, name: str, version: str, into: Path) -> Path:
    """The unregistered reference in ``directory``, re-encrypted for ``name`` ``version``
    into the folder ``into``."""
    frame = decrypt_reference((directory / ARTIFACT_NAME).read_bytes(), key)
    return write_reference(frame, into, key, name, str(version))


class MlflowDriftReferences:
    """Reads a registered version's reference from its MLflow run's artifacts."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def reference(self, name: str, version: str) -> pd.DataFrame:
        import mlflow
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        from novamind_core.infrastructure.registry.tracking import configure

        configure()
        try:
            run_id = MlflowClient().get_model_version(name, str(version)).run_id
            with tempfile.TemporaryDirectory() as tmp:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"{ARTIFACT_DIR}/{ARTIFACT_NAME}", dst_path=tmp
                )
                blob = Path(path).read_bytes()
        except (MlflowException, OSError):
            raise NotFoundError(
                f"{name} version {version} has no drift reference (it was registered without "
                "one); retrain it with its training pipeline to create one"
            ) from None
        return decrypt_reference(blob, self.key, name, str(version))
