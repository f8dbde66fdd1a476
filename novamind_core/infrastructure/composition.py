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


def location(config: Settings | None = None):
    """The root of the shared files: a local folder, or an S3-compatible prefix."""
    from novamind_core.infrastructure.store.location import StoreLocation

    config = config or settings()
    return StoreLocation.from_uri(config.store_root_uri, endpoint_url=config.s3_endpoint_url)


def dataset_store(config: Settings | None = None):
    """The encrypted, versioned patient store (a clear error without a key)."""
    from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore

    config = config or settings()
    return EncryptedDatasetStore(location(config).child("store"), config.require_encryption_key())


def audit_trail(actor: str | None = None, config: Settings | None = None):
    """The keyed audit trail with its checkpoint store; ``actor`` names a service
    (default: the user)."""
    from novamind_core.infrastructure.observability.audit_checkpoints import SqlCheckpoints
    from novamind_core.infrastructure.observability.audit_trail import KeyedAuditTrail

    config = config or settings()
    url = config.checkpoint_url
    if url.startswith("s3://"):
        from novamind_core.infrastructure.observability.audit_checkpoints import ObjectCheckpoints
        from novamind_core.infrastructure.store.location import StoreLocation

        store = ObjectCheckpoints(StoreLocation.from_uri(url, endpoint_url=config.s3_endpoint_url))
    else:
        store = SqlCheckpoints(url)
    return KeyedAuditTrail(
        config.audit_log_path,
        config.require_audit_key(),
        store,
        trail=f"{config.service_name}:{config.audit_log_path.resolve()}",
        actor=actor,
    )


def model_registry():
    """The MLflow model registry, at the configured tracking URI."""
    from novamind_core.infrastructure.registry.mlflow_registry import MlflowModelRegistry

    return MlflowModelRegistry()


def payload_log(model: str, flush_rows: int = 5000, config: Settings | None = None):
    """The encrypted payload log of one served model (chunks at the store's location, the
    journal on local disk); None without a store key."""
    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    config = config or settings()
    if config.encryption_key is None:
        return None
    return PayloadLog(
        location(config),
        model,
        config.require_encryption_key(),
        flush_rows,
        journal_dir=config.data_dir / "payload-journal" / model,
    )


def approvals(config: Settings | None = None, signing: bool = False):
    """Approval records: verified with the reviewers' public key; ``signing``: also signed
    with their private key (a reviewer's machine only)."""
    from novamind_core.domain.errors import ConfigurationError
    from novamind_core.infrastructure.registry.approvals import MlflowApprovals
    from novamind_core.infrastructure.security.signing_keys import (
        read_private_key,
        read_public_key,
    )

    config = config or settings()
    if not config.approval_public_key:
        raise ConfigurationError(
            "NOVAMIND_APPROVAL_PUBLIC_KEY is not set: only versions with a verified approval "
            "are served (create the reviewers' key pair with `novamind data keygen`)"
        )
    public = read_public_key(config.approval_public_key, "NOVAMIND_APPROVAL_PUBLIC_KEY")
    private = None
    if signing and config.approval_signing_key_file is not None:
        private = read_private_key(
            config.approval_signing_key_file, "NOVAMIND_APPROVAL_SIGNING_KEY_FILE"
        )
    return MlflowApprovals(public_key=public, signing_key=private)
