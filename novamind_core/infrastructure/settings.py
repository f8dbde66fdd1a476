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
JwtAlgorithm = Literal["HS256", "HS384", "HS512"]

ENV_PREFIX = "NOVAMIND_"


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

    # Security configuration.
    jwt_secret: SecretStr | None = None
    jwt_algorithm: JwtAlgorithm = "HS256"
    api_key: SecretStr | None = None
    encryption_key: SecretStr | None = None

    # Drift monitoring: a webhook that receives drift alerts; the policy file (default:
    # feature_specs/drift_policy.yaml).
    drift_webhook_url: str | None = None
    drift_policy: Path | None = None

    # Where the platform keeps its files.
    data_dir: Path = Path("./data")
    service_name: str = "novamind"

    mlflow_tracking_uri: str = Field(
        default_factory=default_tracking_uri,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "NOVAMIND_MLFLOW_TRACKING_URI"),
    )

    @field_validator("log_level", "jwt_algorithm", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("encryption_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())
        return value

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def audit_log_path(self) -> Path:
        return self.data_dir / "audit" / "audit.jsonl"

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
