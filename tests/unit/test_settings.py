import pytest

from novamind_core.domain.errors import ConfigurationError
from novamind_core.infrastructure.settings import load_settings


def test_defaults_follow_the_design_document(env):
    s = load_settings()
    assert s.max_forecast_horizon == 30
    assert s.correlation_threshold == 0.3
    assert s.cache_ttl == 3600
    assert s.use_ensemble is True
    assert s.jwt_algorithm == "EdDSA"  # people's tokens: a key pair, not a shared secret
    assert s.jwt_audience == "novamind-api" and s.token_max_ttl_minutes == 720
    assert s.mlflow_tracking_uri.startswith("sqlite:///") and s.mlflow_tracking_uri.endswith(
        "mlruns/mlflow.db"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NOVAMIND_MAX_FORECAST_HORIZON", "abc"),
        ("NOVAMIND_MAX_FORECAST_HORIZON", "0"),
        ("NOVAMIND_CORRELATION_THRESHOLD", "1.5"),
        ("NOVAMIND_LOG_LEVEL", "LOUD"),
        ("NOVAMIND_USE_ENSEMBLE", "perhaps"),
        ("NOVAMIND_CACHE_TTL", "-1"),
        ("NOVAMIND_JWT_ALGORITHM", "none"),
        ("NOVAMIND_API_KEY", "short-key"),
        ("NOVAMIND_AUDIT_KEY", "not-32-bytes"),
    ],
)
def test_invalid_value_names_the_variable(env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert variable in str(info.value)


def test_a_bad_encryption_key_is_named_but_not_echoed(env, monkeypatch):
    monkeypatch.setenv("NOVAMIND_ENCRYPTION_KEY", "too-short-secret")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "NOVAMIND_ENCRYPTION_KEY" in str(info.value)
    assert "too-short-secret" not in str(info.value)


def test_missing_encryption_key_is_a_clear_error(env, monkeypatch):
    monkeypatch.delenv("NOVAMIND_ENCRYPTION_KEY")
    with pytest.raises(ConfigurationError, match="NOVAMIND_ENCRYPTION_KEY is not set"):
        load_settings().require_encryption_key()


def test_values_come_from_dotenv_and_environment_wins(env, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("NOVAMIND_MAX_FORECAST_HORIZON=14\nNOVAMIND_CACHE_TTL=60\n")
    monkeypatch.setenv("NOVAMIND_CACHE_TTL", "120")
    s = load_settings()
    assert s.max_forecast_horizon == 14
    assert s.cache_ttl == 120


def test_mlflow_tracking_uri_is_read_without_prefix(env, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://localhost/mlflow")
    assert load_settings().mlflow_tracking_uri == "postgresql://localhost/mlflow"
