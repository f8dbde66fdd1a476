"""Load the drift policy (method, minimum sample size, per-column thresholds) from YAML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from novamind_core.domain.drift import DriftPolicy
from novamind_core.domain.errors import ConfigurationError
from novamind_core.infrastructure.validation.feature_specs import DEFAULT_SPECS_DIR

DEFAULT_POLICY = DEFAULT_SPECS_DIR / "drift_policy.yaml"
# Distance-type methods only: a higher score means more drift (p-value tests such as "ks"
# read the other way round and are not offered).
METHODS = {"wasserstein", "psi", "jensenshannon", "kl_div", "energy_distance", "hellinger"}


def load_policy(
    features: Sequence[str], path: Path | None = None, model: str | None = None, **overrides
) -> DriftPolicy:
    """The policy for a model's monitored ``features`` in ``path`` (default
    ``feature_specs/drift_policy.yaml``), with overrides. The file's top-level
    ``thresholds`` are the symptom forecaster's; another model's are under
    ``models: {<name>: {thresholds: ...}}``."""
    path = path or DEFAULT_POLICY
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigurationError(f"cannot read the drift policy {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"the drift policy {path} is not valid YAML: {exc}") from None
    own = (data.get("models") or {}).get(model) if model else None
    if own is not None:
        data = {**data, **own}
    data.update({k: v for k, v in overrides.items() if v is not None})
    method = data.get("method", "wasserstein")
    if method not in METHODS:
        raise ConfigurationError(
            f"{path}: method {method!r} is not one of {', '.join(sorted(METHODS))}"
        )
    try:
        return DriftPolicy(
            features=tuple(features),
            thresholds={k: float(v) for k, v in (data.get("thresholds") or {}).items()},
            default_threshold=float(data.get("default_threshold", 0.5)),
            method=method,
            min_samples=_whole(data.get("min_samples", 200)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from None


def _whole(value) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"min_samples must be a whole number, got {value!r}")
    return int(number)
