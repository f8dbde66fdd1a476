"""MLflow tracking and model registry adapters."""
