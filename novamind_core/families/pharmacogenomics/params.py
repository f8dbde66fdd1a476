"""The pharmacogenomics pipeline's parameters, checked before any step runs."""

from __future__ import annotations

from novamind_core.families.pharmacogenomics.steps import check_params, expected_from


def check_pgx_params(params: dict, settings) -> dict:
    check_params(
        params.get("held_out_share", 0.15), params.get("seed", 0), params.get("epochs", 60)
    )
    if "expected_effects" in params:
        params["expected_effects"] = expected_from(params["expected_effects"])
    return params
