"""Typed configuration: the ``NOVAMIND_*`` variables and ``MLFLOW_TRACKING_URI``.

Values come from the environment, then from a ``.env`` file in the working directory,
then from the defaults below. An invalid value raises a ``ConfigurationError`` that
names the variable and says what was expected.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from novamind_core.domain.errors import ConfigurationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
JwtAlgorithm = Literal["EdDSA", "RS256", "ES256", "HS256", "HS384", "HS512"]

ENV_PREFIX = "NOVAMIND_"
MIN_API_KEY_CHARS = 32


def default_tracking_uri() -> str:
    """SQLite MLflow store under ``mlruns/`` of the working directory."""
    return f"sqlite:///{(Path.cwd() / 'mlruns' / 'mlflow.db').as_posix()}"


class Settings(BaseSettings):
    """Every setting of the platform, one field per environment variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # Model paths (design document, "Model Paths").
    model_base_dir: Path = Path("./models")
    symptom_model_path: str = "symptom_forecasting"
    biometric_model_path: str = "biometric_correlation"
    pharmacogenomics_model_path: str = "pharmacogenomics"

    # Service configuration.
    log_level: LogLevel = "INFO"
    use_ensemble: bool = True
    max_forecast_horizon: int = Field(default=30, ge=1, le=365)
    correlation_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    cache_ttl: int = Field(default=3600, ge=0)

    # Security configuration. People's tokens: EdDSA by default, verified with the public
    # key (or an identity provider's JWKS), minted only where the signing key file is;
    # HS* algorithms verify and sign with NOVAMIND_JWT_SECRET.
    jwt_secret: SecretStr | None = None
    jwt_algorithm: JwtAlgorithm = "EdDSA"
    jwt_public_key: str | None = None
    jwt_signing_key_file: Path | None = None
    jwks_url: str | None = None
    jwt_issuer: str = "novamind"
    jwt_audience: str = "novamind-api"
    token_max_ttl_minutes: int = Field(default=720, ge=1, le=7 * 24 * 60)
    # Approvals of model versions: signed by reviewers (the signing key file, on their
    # machines only), verified by every server (the public key).
    approval_public_key: str | None = None
    approval_signing_key_file: Path | None = None
    api_key: SecretStr | None = None
    encryption_key: SecretStr | None = None
    # The audit trail's HMAC key, separate from the store's; its signed checkpoints go to
    # this database (default: a SQLite file beside the MLflow store; PostgreSQL in
    # production, e.g. postgresql+psycopg2://user@host/db).
    audit_key: SecretStr | None = None
    audit_checkpoint_url: str | None = None

    # Drift monitoring: a webhook that receives drift alerts; the policy file (default:
    # feature_specs/drift_policy.yaml).
    drift_webhook_url: str | None = None
    drift_policy: Path | None = None

    # The digital twin (`novamind twin serve`): where each family's served model answers,
    # how long a call and a whole answer may take, retries, the circuit breakers, the
    # cache (Redis when a URL is set, else in-process), the event bus (Kafka protocol when a
    # bootstrap is set, else in-process) and where traces go.
    twin_port: int = Field(default=8090, ge=1, le=65535)
    twin_forecaster_url: str = "http://127.0.0.1:8080"
    twin_correlator_url: str = "http://127.0.0.1:8080"
    twin_medication_url: str = "http://127.0.0.1:8080"
    twin_call_timeout: float = Field(default=2.0, gt=0, le=60)
    twin_deadline: float = Field(default=5.0, gt=0, le=120)
    twin_retries: int = Field(default=2, ge=0, le=5)
    twin_breaker_failures: int = Field(default=5, ge=1, le=100)
    twin_breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)
    twin_service_token: SecretStr | None = None
    redis_url: str | None = None
    kafka_bootstrap: str | None = None
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    # The web console (`novamind console`): its port, and development users who may sign
    # in with a password (JSON: {"name": {"password_sha256": "...", "roles": ["reviewer"]}};
    # their tokens are issued with the token issuer's key, so only where that key is).
    console_port: int = Field(default=8095, ge=1, le=65535)
    console_users: str | None = None
    console_twin_url: str = "http://127.0.0.1:8090"  # the twin the patient pages ask

    # Where the platform keeps its files: local working files (logs, the audit trail, the
    # payload journal, local pipeline runs) in data_dir; the shared ones (datasets, payload
    # chunks, drift reports) at the store's URI — data_dir itself unless set, or
    # s3://bucket/prefix with NOVAMIND_S3_ENDPOINT_URL and AWS_ACCESS_KEY_ID /
    # AWS_SECRET_ACCESS_KEY for S3-compatible object storage.
    data_dir: Path = Path("./data")
    store_uri: str | None = None
    s3_endpoint_url: str | None = None
    service_name: str = "novamind"

    mlflow_tracking_uri: str = Field(
        default_factory=default_tracking_uri,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "NOVAMIND_MLFLOW_TRACKING_URI"),
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("jwt_algorithm", mode="before")
    @classmethod
    def _algorithm(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() == "eddsa":
            return "EdDSA"
        return value.upper() if isinstance(value, str) else value

    @field_validator("api_key")
    @classmethod
    def _api_key_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_API_KEY_CHARS:
            raise ValueError(f"must be at least {MIN_API_KEY_CHARS} characters long")
        return value

    @field_validator("encryption_key", "audit_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())
        return value

    @property
    def store_dir(self) -> Path:
        """The dataset store's folder when the store is local (the default)."""
        return self.data_dir / "store"

    @property
    def store_root_uri(self) -> str:
        return self.store_uri or str(self.data_dir)

    @property
    def audit_log_path(self) -> Path:
        return self.data_dir / "audit" / "audit.jsonl"

    @property
    def checkpoint_url(self) -> str:
        """Where the audit trail's checkpoints go: the configured database, else a SQLite
        file beside a SQLite MLflow store, else one beside the data directory."""
        if self.audit_checkpoint_url:
            return self.audit_checkpoint_url
        if self.store_root_uri.startswith("s3://"):  # beside the shared files, not the pod's
            return f"{self.store_root_uri.rstrip('/')}/audit-checkpoints"
        if self.mlflow_tracking_uri.startswith("sqlite:///"):
            folder = Path(self.mlflow_tracking_uri.removeprefix("sqlite:///")).parent
        else:
            folder = self.data_dir.resolve().parent
        return f"sqlite:///{(folder / 'audit-checkpoints.db').as_posix()}"

    def require_audit_key(self) -> bytes:
        """The 32-byte audit key, or a clear error when it is not configured."""
        if self.audit_key is None:
            raise ConfigurationError(
                "NOVAMIND_AUDIT_KEY is not set: the audit trail needs its own 32-byte key "
                "(base64). Create one with `novamind data keygen --env-file .env`."
            )
        return decode_key(self.audit_key.get_secret_value())

    def require_encryption_key(self) -> bytes:
        """The 32-byte master key, or a clear error when it is not configured."""
        if self.encryption_key is None:
            raise ConfigurationError(
                "NOVAMIND_ENCRYPTION_KEY is not set: the patient store needs a 32-byte key "
                "(base64). Create one with `novamind data keygen --env-file .env`."
            )
        return decode_key(self.encryption_key.get_secret_value())


def decode_key(text: str) -> bytes:
    """Decode a urlsafe-base64 32-byte key; raise ValueError with a reason otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("must be a urlsafe base64 string (32 bytes once decoded)") from exc
    if len(raw) != 32:
        raise ValueError(f"must decode to 32 bytes, got {len(raw)}")
    return raw


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        variable = (
            "MLFLOW_TRACKING_URI"
            if field == "mlflow_tracking_uri"
            else (f"{ENV_PREFIX}{field.upper()}")
        )
        shown = "" if "key" in field or "secret" in field else f" (got {item.get('input')!r})"
        lines.append(f"{variable}: {item['msg']}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's errors into a ConfigurationError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
