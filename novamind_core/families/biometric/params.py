"""The correlation pipeline's parameters, checked before any step runs."""

from __future__ import annotations

import json

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.engine import EngineSettings


def expected_from(text: str) -> dict:
    """What a run is expected to recover, from a JSON document: the synthetic cohort's
    ``ground_truth.json`` (``lead_lag_effects``, ``no_effect_biometrics``) or just those
    keys. Empty text: nothing expected (the gate is not applied)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError("expected_relations must be JSON (or @FILE of JSON)") from None
    if not isinstance(data, dict) or not isinstance(data.get("lead_lag_effects"), list):
        raise ValidationError(
            "expected_relations needs a 'lead_lag_effects' list, as ground_truth.json has"
        )
    effects = []
    for i, e in enumerate(data["lead_lag_effects"]):
        try:
            effects.append(
                {
                    "biometric": str(e["biometric"]),
                    "symptom": str(e["symptom"]),
                    "lag_days": int(e["lag_days"]),
                    "direction": str(e.get("direction", "")),
                }
            )
        except (KeyError, TypeError, ValueError):
            raise ValidationError(
                f"expected_relations.lead_lag_effects[{i}] needs biometric, symptom, lag_days"
            ) from None
    return {
        "lead_lag_effects": effects,
        "no_effect_biometrics": [str(b) for b in data.get("no_effect_biometrics", [])],
    }


def check_correlation_params(params: dict, settings) -> dict:
    EngineSettings(
        max_lag=params.get("max_lag", 7),
        method=params.get("method", "pearson"),
        fdr=params.get("fdr", 0.05),
        threshold=settings.correlation_threshold,
    )
    for name in ("predictor_seed", "max_train_windows"):
        value = params.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError(f"{name} must be a whole number ≥ 0, got {value!r}")
    if 0 < params.get("max_train_windows", 0) < 256:
        raise ValidationError("max_train_windows must be 0 (each model's default) or ≥ 256")
    if "expected_relations" in params:
        params["expected_relations"] = json.dumps(expected_from(params["expected_relations"]))
    return params
