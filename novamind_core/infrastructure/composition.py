"""The composition root: where the platform's shared adapters are built from the settings.

The command, the server, the pipeline steps and the drift monitor all get the patient
store, the audit trail, the model registry and the payload log from here, so each is
configured in one place (paths, keys, actor names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: `novamind --help` loads no settings library
    from novamind_core.infrastructure.settings import Settings


def settings() -> Settings:
    """The process-wide settings (a ConfigurationError names a bad variable)."""
    from novamind_core.infrastructure.settings import get_settings

    return get_settings()


def dataset_store(config: Settings | None = None):
    """The encrypted, versioned patient store (a clear error without a key)."""
    from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore

    config = config or settings()
    return EncryptedDatasetStore(config.store_dir, config.require_encryption_key())


def audit_trail(actor: str | None = None, config: Settings | None = None):
    """The hash-chained audit trail; ``actor`` names a service (default: the user)."""
    from novamind_core.infrastructure.observability.audit_trail import HashChainAuditTrail

    return HashChainAuditTrail((config or settings()).audit_log_path, actor=actor)


def model_registry():
    """The MLflow model registry, at the configured tracking URI."""
    from novamind_core.infrastructure.registry.mlflow_registry import MlflowModelRegistry

    return MlflowModelRegistry()


def payload_log(model: str, flush_rows: int = 5000, config: Settings | None = None):
    """The encrypted payload log of one served model; None without a store key."""
    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    config = config or settings()
    if config.encryption_key is None:
        return None
    return PayloadLog(config.data_dir, model, config.require_encryption_key(), flush_rows)
