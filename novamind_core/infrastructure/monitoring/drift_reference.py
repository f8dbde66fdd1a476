"""The training reference of a model version: what its inputs and outputs looked like.

A seeded sample of forecast origins from the training window (training patients, days
before the validation window): the monitored features at each origin and the model's own
horizon-1 median forecast there. It holds no pseudonym and no date, and is stored
AES-GCM encrypted with the platform key as an MLflow artifact of the registered version.
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from novamind_core.domain.drift import PREDICTION
from novamind_core.domain.errors import NotFoundError
from novamind_core.infrastructure.forecasting.imputation import KEY
from novamind_core.infrastructure.forecasting.split import SplitPlan
from novamind_core.infrastructure.forecasting.windows import make_windows
from novamind_core.infrastructure.monitoring.drift_features import (
    MONITORED_FEATURES,
    features_on_grid,
)
from novamind_core.infrastructure.store.encryption import FileCipher

ARTIFACT_DIR = "drift_reference"
ARTIFACT_NAME = "reference.parquet.enc"
_AAD = "drift_reference"


def build_reference(
    bundle, grid: pd.DataFrame, plan: SplitPlan, max_rows: int = 5000, seed: int = 0
) -> pd.DataFrame:
    """Features and the bundle's horizon-1 median at up to ``max_rows`` training origins."""
    spec = bundle.spec
    train = grid[(grid["day"] < plan.validation_start) & ~grid[KEY].isin(plan.held_out_patients)]
    if train.empty:
        raise ValueError("the grid has no training days to build a drift reference from")
    days = train.groupby(KEY).size()
    origins = int((days - spec.context_days + 1).clip(lower=0).sum())
    stride = max(1, math.ceil(origins / max_rows))
    windows = make_windows(
        train,
        spec.target,
        bundle.scaler,
        spec.context_days,
        spec.horizon,
        stride=stride,
        require_future=False,
    )
    if len(windows) > max_rows:
        pick = np.sort(np.random.default_rng(seed).choice(len(windows), max_rows, replace=False))
        windows = windows.subset(pick)
    prediction = bundle.forecast(windows).median[:, 0]
    at = pd.DataFrame({KEY: windows.keys, "day": pd.to_datetime(windows.origin)})
    features = at.merge(features_on_grid(train, spec.context_days), on=[KEY, "day"], how="left")
    frame = features[list(MONITORED_FEATURES)].reset_index(drop=True)
    frame[PREDICTION] = prediction.astype(float)
    return frame


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
                "one); retrain with `novamind pipeline run symptom-forecasting` to create one"
            ) from None
        return decrypt_reference(blob, self.key)
