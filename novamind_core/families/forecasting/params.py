"""Parameter checks of the symptom-forecasting pipeline: what would fail later, now."""

from __future__ import annotations

from novamind_core.domain.errors import ValidationError

TARGETS = ("phq9", "gad7", "mood")
PRECISIONS = ("float32", "float16", "bfloat16")


def check_training_params(params: dict, settings) -> dict:
    """Reject a bad horizon, epoch or trial count, target or precision before any step
    runs; fill ``use_ensemble`` from ``NOVAMIND_USE_ENSEMBLE`` when not given."""
    horizon = params.get("horizon", 7)
    if not 1 <= horizon <= settings.max_forecast_horizon:
        raise ValidationError(
            f"horizon {horizon} is outside 1..{settings.max_forecast_horizon} "
            "(NOVAMIND_MAX_FORECAST_HORIZON)"
        )
    for key in ("epochs", "trials"):
        if params.get(key, 1) < 1:
            raise ValidationError(f"{key} must be at least 1")
    target = params.get("target", "mood")
    if target not in TARGETS:
        raise ValidationError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
    precision = params.get("transformer_precision", "float32")
    if precision not in PRECISIONS:
        raise ValidationError(
            f"transformer_precision must be float32, float16 or bfloat16; got {precision!r}"
        )
    params.setdefault("use_ensemble", settings.use_ensemble)
    return params
