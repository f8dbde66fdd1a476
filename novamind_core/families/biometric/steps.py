"""The correlation pipeline's steps with file inputs and outputs: what its components run.

validate (shared ``start_pipeline``) → align → correlate → register. The aligned grid
holds patient rows and is written encrypted; everything after it is cohort-level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from novamind_core.families.biometric.analysis import COLUMNS, correlate
from novamind_core.families.biometric.engine import EngineSettings, lead_lag
from novamind_core.families.biometric.output import EDGE_COLUMNS, records
from novamind_core.families.biometric.params import expected_from
from novamind_core.families.biometric.signals import BIOMETRICS, SIGNALS
from novamind_core.infrastructure.kfp.artifacts import read_frame, write_frame, write_json

MIN_PATIENTS = 10
NULL_PAIRINGS = 10  # broken-link re-pairings of the cohort for the calibration gate
NULL_REJECTION_LIMIT = 0.075  # p < 0.05 among null tests: nominal 5%, with sampling room


def run_params(max_lag: int, method: str, fdr: float) -> dict:
    return {"max_lag": max_lag, "method": method, "fdr": fdr}


def engine_settings(max_lag: int, method: str, fdr: float) -> EngineSettings:
    from novamind_core.infrastructure import composition

    threshold = composition.settings().correlation_threshold
    return EngineSettings(max_lag=max_lag, method=method, fdr=fdr, threshold=threshold)


def align(dataset_version: str, grid: Path, readings: Path) -> dict:
    """The daily grid (every signal) and the hourly heart-rate and HRV readings (for the
    HFBN), both encrypted intermediates."""
    from novamind_core.families.biometric.cohort_data import stored_grid_and_readings
    from novamind_core.families.biometric.intraday import hourly
    from novamind_core.infrastructure import composition

    store = composition.dataset_store()
    _, aligned, biometrics = stored_grid_and_readings(
        store, dataset_version, composition.audit_trail(), "train biometric-correlator: align"
    )
    frame = aligned.to_frame()
    write_frame(grid, "grid", frame)
    hours = hourly(biometrics, aligned).to_frame()
    write_frame(readings, "readings", hours)
    stats = {"patients": len(aligned.keys), "patient_days": len(frame), "hourly_bins": len(hours)}
    for name in SIGNALS:
        stats[f"days_with_{name}_share"] = round(float(frame[name].notna().mean()), 4)
    return stats


def null_calibration(values: np.ndarray, settings: EngineSettings) -> dict:
    """Each patient's wearables beside another patient's symptoms over the same days
    (``NULL_PAIRINGS`` re-pairings): every association is then false, so the share of
    p < 0.05 should be 5% and analyses with any discovery at most the FDR."""
    nb = len(BIOMETRICS)  # ``values`` holds every signal, biometrics first (``SIGNALS``)
    shifts = range(1, min(NULL_PAIRINGS, len(values) - 1) + 1)
    rates, any_found = [], []
    for shift in shifts:
        paired = values.copy()
        paired[:, nb:] = np.roll(values[:, nb:], shift, axis=0)
        pooled = lead_lag(paired, settings).pooled
        if not pooled.valid.any():
            continue  # nothing computed: no evidence either way
        rates.append(float(np.mean(pooled.p[pooled.valid] < 0.05)))
        any_found.append(bool((pooled.q[pooled.valid] <= settings.fdr).any()))
    return {
        "pairings": len(rates),
        "rejection_rate": float(np.mean(rates)) if rates else 1.0,  # no evidence: fails
        "any_discovery_share": float(np.mean(any_found)) if any_found else 1.0,
    }


def recovered(tests, expected: dict) -> dict:
    """Per expected relation: significant, strongest at its lag, in its direction (when
    given); no-effect signals significant nowhere."""
    out = {"relations": [], "all_recovered": True}
    for effect in expected.get("lead_lag_effects", []):
        pair = tests[
            (tests.biometric == effect["biometric"]) & (tests.symptom == effect["symptom"])
        ]
        found = not pair.empty
        strongest = pair.loc[pair["coefficient"].abs().idxmax()] if found else None
        sign = {"positive": 1, "negative": -1}.get(effect.get("direction", ""), 0)
        ok = bool(
            found
            and strongest["significant"]
            and strongest["lag_days"] == effect["lag_days"]
            and (sign == 0 or np.sign(strongest["coefficient"]) == sign)
        )
        out["relations"].append(
            {
                **effect,
                "recovered": ok,
                "strongest_lag": int(strongest["lag_days"]) if found else None,
            }
        )
        out["all_recovered"] &= ok
    quiet = expected.get("no_effect_biometrics", [])
    noisy = sorted(set(tests[tests.significant & tests.biometric.isin(quiet)].biometric))
    out["no_effect_significant"] = noisy
    return out


def correlate_step(
    grid: Path,
    max_lag: int,
    method: str,
    fdr: float,
    expected_relations: str,
    analysis: Path,
    charts: Path,
) -> dict:
    from novamind_core.families.biometric import plots
    from novamind_core.families.biometric.alignment import AlignedCohort

    settings = engine_settings(max_lag, method, fdr)
    aligned = AlignedCohort.from_frame(read_frame(grid, "grid"))
    result = correlate(aligned, settings)
    null = null_calibration(aligned.values, settings)
    expected = expected_from(expected_relations)
    gates = {
        "enough_patients": result.patients >= MIN_PATIENTS,
        "null_calibrated": bool(null["rejection_rate"] <= NULL_REJECTION_LIMIT),
    }
    evaluation = {
        "settings": settings.to_dict(),
        "patients": result.patients,
        "tests": len(result.tests),
        "significant": int(result.tests["significant"].sum()),
        "clinically_relevant": int(
            (result.tests["significant"] & result.tests["clinically_relevant"]).sum()
        ),
        "edges": len(result.directed.edges),
        "null": null,
        "strongest": records(result.significant().head(10)[list(COLUMNS)]),
        "causal_edges": records(result.directed.edges[list(EDGE_COLUMNS)]),
        "exclusions": [
            e.__dict__ if hasattr(e, "__dict__") else _exclusion(e) for e in result.exclusions
        ],
    }
    if expected:
        check = recovered(result.tests, expected)
        gates["expected_recovered"] = bool(check["all_recovered"])
        gates["no_effect_quiet"] = not check["no_effect_significant"]
        evaluation["expected"] = check
    analysis.mkdir(parents=True, exist_ok=True)
    write_json(analysis / "evaluation.json", {"evaluation": evaluation, "gates": gates}, indent=2)
    result.tests[[*list(COLUMNS), "n_patients"]].to_csv(analysis / "tests.csv", index=False)
    result.directed.table.to_csv(analysis / "directed_tests.csv", index=False)
    write_json(analysis / "settings.json", settings.to_dict(), indent=2)
    plots.heatmap(result.tests, settings, charts / "lag_heatmap.png")
    plots.causal_graph(result.directed.edges, settings, charts / "causal_graph.png")
    return {
        "patients": result.patients,
        "tests": len(result.tests),
        "significant": evaluation["significant"],
        "edges": evaluation["edges"],
        "null_rejection_rate": null["rejection_rate"],
        **{f"gate_{k}": float(v) for k, v in gates.items()},
    }


def _exclusion(e) -> dict:
    return {"scope": e.scope, "reason": e.reason, "count": e.count, "detail": e.detail}
