"""One analysis: the engine's and the directed tests of a cohort or of one patient, the
exclusions counted, and the domain result (``BiometricCorrelationResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from novamind_core.domain.errors import NotFoundError
from novamind_core.domain.observations import BiometricKind, Instrument
from novamind_core.domain.patients import PatientPseudonym
from novamind_core.domain.results import (
    BiometricCorrelationResult,
    CausalEdge,
    CorrelationResult,
    Exclusion,
)
from novamind_core.families.biometric.alignment import AlignedCohort
from novamind_core.families.biometric.directed import DirectedTests, directed_tests
from novamind_core.families.biometric.engine import EngineSettings, LeadLag, Tests, lead_lag
from novamind_core.families.biometric.signals import BIOMETRICS, SIGNALS, SYMPTOMS

COLUMNS = (
    "biometric",
    "symptom",
    "lag_days",
    "method",
    "coefficient",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "n_pairs",
    "n_effective",
    "significant",
    "clinically_relevant",
)


@dataclass
class Analysis:
    settings: EngineSettings
    tests: pd.DataFrame  # every computed test, ``COLUMNS`` (+ n_patients for a cohort)
    directed: DirectedTests
    exclusions: list[Exclusion] = field(default_factory=list)
    patients: int = 0
    patient: str | None = None

    def significant(self) -> pd.DataFrame:
        """The significant relations, strongest first."""
        found = self.tests[self.tests["significant"]]
        return found.iloc[np.argsort(-found["coefficient"].abs().to_numpy(), kind="stable")]

    def result(self) -> BiometricCorrelationResult:
        relations = tuple(
            CorrelationResult(
                BiometricKind(row.biometric),
                Instrument(row.symptom),
                int(row.lag_days),
                row.method,
                float(row.coefficient),
                float(row.p_value),
                float(row.q_value),
                int(row.n_pairs),
                float(row.ci_low),
                float(row.ci_high),
                float(row.n_effective),
                bool(row.significant),
                bool(row.clinically_relevant),
            )
            for row in self.significant().itertuples()
        )
        edges = tuple(
            CausalEdge(
                BiometricKind(row.biometric),
                Instrument(row.symptom),
                int(row.lag_days),
                float(row.strength),
                float(row.p_value),
                float(row.q_value),
                int(row.n_obs),
            )
            for row in self.directed.edges.itertuples()
        )
        return BiometricCorrelationResult(
            correlation_strength=relations,
            temporal_patterns=(),
            causal_graph=edges,
            exclusions=tuple(self.exclusions),
            tests=len(self.tests),
            patients=self.patients,
            patient=PatientPseudonym(self.patient) if self.patient else None,
        )


def table(tests: Tests, settings: EngineSettings, index=()) -> pd.DataFrame:
    """The valid tests of ``tests`` (indexed by ``index`` first, e.g. one patient) as rows."""
    lag, b, s = np.nonzero(tests.valid[index])
    picked = (*tuple(index), lag, b, s)
    coefficient = np.round(tests.r[picked], 6)
    q = tests.q[picked]
    return pd.DataFrame(
        {
            "biometric": np.array(settings.biometrics, dtype=object)[b],
            "symptom": np.array(settings.symptoms, dtype=object)[s],
            "lag_days": lag,
            "method": settings.method,
            "coefficient": coefficient,
            "ci_low": np.round(tests.ci_low[picked], 6),
            "ci_high": np.round(tests.ci_high[picked], 6),
            "p_value": tests.p[picked],
            "q_value": q,
            "n_pairs": tests.n[picked].astype(int),
            "n_effective": np.round(tests.n_eff[picked], 1),
            "significant": q <= settings.fdr,
            "clinically_relevant": np.abs(coefficient) >= settings.threshold,
        }
    )


def patient_exclusions(aligned: AlignedCohort, settings: EngineSettings, used: np.ndarray):
    """Why patients are left out (counted per reason; each patient once, first reason)."""
    b_rows = [SIGNALS.index(b) for b in settings.biometrics]
    s_rows = [SIGNALS.index(s) for s in settings.symptoms]
    recorded = ~np.isnan(aligned.values)
    wearable = recorded[:, b_rows].any(axis=(1, 2))
    symptoms = recorded[:, s_rows].any(axis=(1, 2))
    reasons = [
        ("no wearable data", ~wearable),
        ("no symptom reports", wearable & ~symptoms),
        ("too few days with both wearable and symptom data", wearable & symptoms & ~used),
    ]
    return [Exclusion("patient", reason, int(mask.sum())) for reason, mask in reasons if mask.any()]


def _constant_series(constant: np.ndarray, settings: EngineSettings) -> list[Exclusion]:
    """Series without any variation (a device stuck on one value): nothing to relate."""
    if not constant.any():
        return []
    names = np.array([*settings.biometrics, *settings.symptoms])
    which = sorted(set(names[np.nonzero(constant)[-1]]))
    return [
        Exclusion("pair", "constant series (no variation)", int(constant.sum()), ", ".join(which))
    ]


def _pair_exclusions(tests: Tests, settings: EngineSettings, what: str) -> list[Exclusion]:
    out = []
    for code, reason in (
        (1, f"too few paired days ({what})"),
        (2, "constant over the paired days"),
    ):
        count = int((tests.reason == code).sum())
        if count:
            out.append(Exclusion("pair", reason, count, "biometric × symptom × lag tests"))
    return out


def _associated(tests: pd.DataFrame) -> set:
    found = tests[tests["significant"]]
    return set(zip(found["biometric"], found["symptom"], found["lag_days"], strict=True))


def correlate(
    aligned: AlignedCohort, settings: EngineSettings, patient: str | None = None
) -> Analysis:
    """The analysis of the whole cohort (pooled, repeated-measures), or of one patient."""
    if patient is not None:
        rows = np.flatnonzero(aligned.keys == patient)
        if not len(rows):
            raise NotFoundError("no stored data for that patient (pseudonym)")
        aligned = aligned.subset(rows)
    engine = lead_lag(aligned.values, settings)
    if patient is not None:
        return _one_patient(aligned, settings, engine, patient)
    used = engine.contributes
    tests = table(engine.pooled, settings)
    lag, b, s = np.nonzero(engine.pooled.valid)
    tests["n_patients"] = engine.patients_pooled[lag, b, s]
    exclusions = patient_exclusions(aligned, settings, used)
    exclusions += _constant_series(engine.constant_series, settings)
    exclusions += _pair_exclusions(
        engine.pooled, settings, "fewer than two patients with 3 or more"
    )
    not_computed = int((engine.per_patient.reason != 0).sum())
    if not_computed:
        exclusions.append(
            Exclusion(
                "pair",
                "patient-level tests not computed (too few paired days or constant)",
                not_computed,
                f"of {engine.per_patient.reason.size} patient × biometric × symptom × lag",
            )
        )
    directed = directed_tests(aligned.values[used], settings, _associated(tests))
    return Analysis(settings, tests, directed, exclusions, int(used.sum()), None)


def _one_patient(aligned, settings, engine: LeadLag, patient: str) -> Analysis:
    tests = table(engine.per_patient, settings, index=(0,))
    used = engine.per_patient.valid.reshape(1, -1).any(axis=1)
    exclusions = patient_exclusions(aligned, settings, used)
    exclusions += _constant_series(engine.constant_series, settings)
    exclusions += _pair_exclusions(
        engine.per_patient, settings, f"fewer than {settings.min_pairs} or too autocorrelated"
    )
    directed = directed_tests(aligned.values, settings, _associated(tests))
    return Analysis(settings, tests, directed, exclusions, int(used.sum()), patient)


def analyses_per_patient(aligned: AlignedCohort, settings: EngineSettings) -> list[Analysis]:
    """One analysis per patient of ``aligned`` from a single engine pass (the server's
    batch): per-patient tests with per-patient q-values."""
    engine = lead_lag(aligned.values, settings)
    out = []
    for i, key in enumerate(aligned.keys):
        one = aligned.subset([i])
        tests = table(engine.per_patient, settings, index=(i,))
        used = engine.per_patient.valid[i].reshape(1, -1).any(axis=1)
        exclusions = patient_exclusions(one, settings, used)
        exclusions += _constant_series(engine.constant_series[i : i + 1], settings)
        sub = Tests(
            *(getattr(engine.per_patient, f)[i : i + 1] for f in Tests.__dataclass_fields__)
        )
        exclusions += _pair_exclusions(
            sub, settings, f"fewer than {settings.min_pairs} or too autocorrelated"
        )
        directed = directed_tests(one.values, settings, _associated(tests))
        out.append(Analysis(settings, tests, directed, exclusions, int(used.sum()), str(key)))
    return out


__all__ = ["BIOMETRICS", "COLUMNS", "SYMPTOMS", "Analysis", "analyses_per_patient", "correlate"]
