"""The training reference of a model version: what its inputs and outputs looked like.

Each family builds its own (the monitored features and the model's prediction at a
sample of training examples; no pseudonym, no date); here it is stored AES-GCM encrypted
with the platform key as an MLflow artifact of the registered version, and read back.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd

from novamind_core.domain.errors import NotFoundError
from novamind_core.infrastructure.store.encryption import FileCipher

ARTIFACT_DIR = "drift_reference"
ARTIFACT_NAME = "reference.parquet.enc"
_AAD = "drift_reference"


def encrypt_reference(frame: pd.DataFrame, key: bytes) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return FileCipher(key).encrypt(buffer.getvalue(), _AAD)


def decrypt_reference(blob: bytes, key: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(FileCipher(key).decrypt(blob, _AAD)))


def write_reference(frame: pd.DataFrame, directory: Path, key: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ARTIFACT_NAME
    path.write_bytes(encrypt_reference(frame, key))
    return path


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
        return decrypt_reference(blob, self.key)
