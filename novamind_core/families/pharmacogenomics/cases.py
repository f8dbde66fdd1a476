"""A patient as the medication-response model sees them, and the training examples.

A ``PatientCase`` is what a prediction needs: the CYP2D6 / CYP2C19 diplotypes (either may
be missing), the diagnosis, the age band, sex and the earlier treatment trials (drug,
dose, response, side effects). ``encode`` turns cases into the model's arrays; the
genotype part can be blanked (``genotype=False``) for the genotype-blind model, which is
also what a patient without a genotype is predicted with.

Training examples come from the stored tables: one per trial, with the trials that
started before it as its history. Labels: ``response`` (missing until assessed, masked in
the loss) and ``side_effect`` (any side effect reported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from novamind_core.domain.errors import ValidationError
from novamind_core.domain.patients import AGE_BANDS, Diagnosis, Sex
from novamind_core.domain.pharmacogenomics import Diplotype, Gene, Phenotype

KEY = "patient_key"
MAX_HISTORY = 5  # most recent earlier trials the model reads
PHENOTYPES = ("PM", "IM", "NM", "RM", "UM")  # "Likely" phenotypes count as the definitive
GENOTYPE_FEATURES = len(Gene) * (len(PHENOTYPES) + 1) + 1
DIAGNOSES = tuple(d.value for d in Diagnosis)
AGE_LABELS = tuple(label for _, _, label in AGE_BANDS)
SEXES = tuple(s.value for s in Sex)
STATIC_FEATURES = GENOTYPE_FEATURES + len(DIAGNOSES) + len(AGE_LABELS) + len(SEXES)
TRIAL_FEATURES = 6  # dose share, responded, not responded, not assessed, side effect, stopped


@dataclass(frozen=True)
class PriorTrial:
    drug: str
    dose_mg: float
    response: bool | None
    side_effect: bool
    discontinued: bool = False


@dataclass(frozen=True)
class PatientCase:
    diplotypes: Mapping[Gene, Diplotype]
    diagnosis: str
    age_band: str
    sex: str
    history: Sequence[PriorTrial] = field(default=())

    @property
    def genotyped(self) -> bool:
        return bool(self.diplotypes)


def phenotype_code(diplotype: Diplotype | None) -> str | None:
    """PM/IM/NM/RM/UM, or None (no genotype, or Indeterminate)."""
    if diplotype is None:
        return None
    phenotype = diplotype.phenotype().recommendation_phenotype
    return None if phenotype is Phenotype.INDETERMINATE else phenotype.value


def genotype_features(diplotypes: Mapping[Gene, Diplotype]) -> np.ndarray:
    """Per gene a one-hot phenotype (plus "unknown"), and the CYP2D6 activity score / 3."""
    out = np.zeros(GENOTYPE_FEATURES, dtype=np.float32)
    width = len(PHENOTYPES) + 1
    for g, gene in enumerate(Gene):
        code = phenotype_code(diplotypes.get(gene))
        out[g * width + (PHENOTYPES.index(code) if code else len(PHENOTYPES))] = 1.0
    cyp2d6 = diplotypes.get(Gene.CYP2D6)
    score = cyp2d6.activity_range() if cyp2d6 is not None else None
    out[-1] = min(score[0], 3.0) / 3.0 if score else 0.0
    return out


def cyp2d6_activity(static: np.ndarray) -> np.ndarray:
    """The CYP2D6 activity score of encoded rows; NaN where CYP2D6 is not genotyped or its
    phenotype is indeterminate (not 0, which is a poor metabolizer's score)."""
    unknown = static[:, len(PHENOTYPES)] == 1.0
    return np.where(unknown, np.nan, static[:, GENOTYPE_FEATURES - 1].astype(float) * 3.0)


def _one_hot(value: str, options: tuple[str, ...], what: str) -> np.ndarray:
    if value not in options:
        raise ValidationError(f"unknown {what} {value!r}; known: {', '.join(options)}")
    out = np.zeros(len(options), dtype=np.float32)
    out[options.index(value)] = 1.0
    return out


def static_features(case: PatientCase, genotype: bool = True) -> np.ndarray:
    genes = genotype_features(case.diplotypes if genotype else {})
    return np.concatenate(
        [
            genes,
            _one_hot(case.diagnosis, DIAGNOSES, "diagnosis"),
            _one_hot(case.age_band, AGE_LABELS, "age band"),
            _one_hot(case.sex, SEXES, "sex"),
        ]
    )


@dataclass
class Encoded:
    """Model inputs for N (patient, drug) pairs."""

    static: np.ndarray  # (N, STATIC_FEATURES) float32
    history_drug: np.ndarray  # (N, MAX_HISTORY) int64, -1 = no trial
    history: np.ndarray  # (N, MAX_HISTORY, TRIAL_FEATURES) float32
    drug: np.ndarray  # (N,) int64 index into the catalog's drug order

    def __len__(self) -> int:
        return len(self.drug)

    def take(self, rows) -> Encoded:
        return Encoded(
            self.static[rows], self.history_drug[rows], self.history[rows], self.drug[rows]
        )

    def blind(self) -> Encoded:
        """The same pairs with the genotype features blanked."""
        static = self.static.copy()
        static[:, :GENOTYPE_FEATURES] = genotype_features({})
        return Encoded(static, self.history_drug, self.history, self.drug)


def encode(
    cases: Sequence[PatientCase],
    drugs: Sequence[str],
    drug_index: Mapping[str, int],
    dose_ranges: Mapping[str, tuple[float, float]],
    genotype: bool = True,
) -> Encoded:
    """Pair ``cases[i]`` with ``drugs[i]``."""
    n = len(cases)
    static = np.zeros((n, STATIC_FEATURES), dtype=np.float32)
    history_drug = np.full((n, MAX_HISTORY), -1, dtype=np.int64)
    history = np.zeros((n, MAX_HISTORY, TRIAL_FEATURES), dtype=np.float32)
    cache: dict[int, tuple] = {}
    for i, case in enumerate(cases):
        if id(case) not in cache:
            cache[id(case)] = (
                static_features(case, genotype),
                *_history(case.history, drug_index, dose_ranges),
            )
        static[i], history_drug[i], history[i] = cache[id(case)]
    unknown = sorted({d for d in drugs if d not in drug_index})
    if unknown:
        raise ValidationError(
            f"unknown drug {', '.join(map(repr, unknown))}; the catalog has: "
            f"{', '.join(sorted(drug_index))}"
        )
    drug = np.array([drug_index[d] for d in drugs], dtype=np.int64)
    return Encoded(static, history_drug, history, drug)


def _history(trials, drug_index, dose_ranges):
    drugs = np.full(MAX_HISTORY, -1, dtype=np.int64)
    features = np.zeros((MAX_HISTORY, TRIAL_FEATURES), dtype=np.float32)
    for j, trial in enumerate(list(trials)[-MAX_HISTORY:]):
        if trial.drug not in drug_index:
            raise ValidationError(
                f"history: unknown drug {trial.drug!r}; the catalog has: "
                f"{', '.join(sorted(drug_index))}"
            )
        low, high = dose_ranges[trial.drug]
        share = (trial.dose_mg - low) / (high - low) if high > low else 0.5
        drugs[j] = drug_index[trial.drug]
        features[j] = [
            float(np.clip(share, 0.0, 1.5)),
            float(trial.response is True),
            float(trial.response is False),
            float(trial.response is None),
            float(trial.side_effect),
            float(trial.discontinued),
        ]
    return drugs, features


# -- the stored tables → cases and training examples ---------------------------------------
def diplotypes_of(row: pd.Series | None) -> dict[Gene, Diplotype]:
    if row is None:
        return {}
    out = {}
    for gene in Gene:
        first, second = f"{gene.value.lower()}_allele1", f"{gene.value.lower()}_allele2"
        if first in row and pd.notna(row[first]) and pd.notna(row[second]):
            out[gene] = Diplotype.parse(gene, f"{row[first]}/{row[second]}", allow_unknown=True)
    return out


def prior_trial(row) -> PriorTrial:
    response = row["response"]
    return PriorTrial(
        drug=str(row["drug_name"]),
        dose_mg=float(row["dose_mg"]),
        response=None if pd.isna(response) else bool(response),
        side_effect=bool(pd.notna(row["side_effects"]) and str(row["side_effects"]).strip()),
        discontinued=bool(row["discontinued_side_effects"]),
    )


def patient_cases(
    patients: pd.DataFrame, genotypes: pd.DataFrame, trials: pd.DataFrame
) -> dict[str, PatientCase]:
    """Every patient as of now: profile, genotype and every trial (oldest first)."""
    genotype_rows = {row[KEY]: row for _, row in genotypes.iterrows()}
    by_patient = {
        key: tuple(prior_trial(row) for _, row in group.iterrows())
        for key, group in trials.sort_values([KEY, "start_date", "trial_id"]).groupby(KEY)
    }
    return {
        row[KEY]: PatientCase(
            diplotypes_of(genotype_rows.get(row[KEY])),
            str(row["primary_diagnosis"]),
            str(row["age_band"]),
            str(row["sex"]),
            by_patient.get(row[KEY], ()),
        )
        for _, row in patients.iterrows()
    }


@dataclass
class Examples:
    """One training example per trial."""

    keys: list[str]
    cases: list[PatientCase]
    drugs: list[str]
    response: np.ndarray  # float: 1, 0 or nan (not assessed)
    side_effect: np.ndarray  # float: 1 or 0
    primary_phenotype: list[str]  # phenotype of the drug's first metabolizing gene ("none")

    def __len__(self) -> int:
        return len(self.drugs)


def examples_from_tables(
    patients: pd.DataFrame,
    genotypes: pd.DataFrame,
    trials: pd.DataFrame,
    metabolized_by: Mapping[str, Sequence[str]],
) -> Examples:
    genotype_rows = {row[KEY]: row for _, row in genotypes.iterrows()}
    profile = patients.set_index(KEY)
    keys, cases, drugs, response, side, primary = [], [], [], [], [], []
    ordered = trials.sort_values([KEY, "start_date", "trial_id"])
    for key, group in ordered.groupby(KEY, sort=False):
        if key not in profile.index:
            continue
        person = profile.loc[key]
        diplotypes = diplotypes_of(genotype_rows.get(key))
        earlier: list[PriorTrial] = []
        for _, row in group.iterrows():
            trial = prior_trial(row)
            keys.append(key)
            cases.append(
                PatientCase(
                    diplotypes,
                    str(person["primary_diagnosis"]),
                    str(person["age_band"]),
                    str(person["sex"]),
                    tuple(earlier),
                )
            )
            drugs.append(trial.drug)
            response.append(np.nan if trial.response is None else float(trial.response))
            side.append(float(trial.side_effect))
            genes = list(metabolized_by.get(trial.drug, ()))
            code = phenotype_code(diplotypes.get(Gene(genes[0]))) if genes else "none"
            primary.append(code or "unknown")
            earlier.append(trial)
    return Examples(
        keys,
        cases,
        drugs,
        np.array(response, dtype=float),
        np.array(side, dtype=float),
        primary,
    )
