"""KServe predictor of ``medication-response``: what is its own.

A request names, per patient, either a pseudonym only (genotype, profile and treatment
history come from the encrypted store) or the patient's fields (``genotype``,
``diagnosis``, ``age_band``, ``sex``, ``history``); optionally a ``condition`` and the
``candidates`` to rank (default: the drugs indicated for the condition, else the
diagnosis). The answer is each patient's ranked list (see ``ranking``). Without a
genotype the genotype-blind network answers, and the answer says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from kserve.errors import InvalidInput

from novamind_core.domain.drift import PREDICTION
from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.families.pharmacogenomics.cases import (
    KEY,
    MAX_HISTORY,
    PatientCase,
)
from novamind_core.families.pharmacogenomics.family import DRIFT_FEATURES, MODEL_NAME
from novamind_core.infrastructure.serving.family_model import FamilyModel, Stored

FIELDS = ("genotype", "diagnosis", "age_band", "sex", "history")
V2_FIELDS = (
    "diagnosis",
    "age_band",
    "sex",
    "cyp2d6",
    "cyp2c19",
    "history",
    "condition",
    "candidates",
)
OUTPUTS = {
    KEY: "BYTES",
    "rank": "INT32",
    "drug": "BYTES",
    "drug_class": "BYTES",
    "efficacy_score": "FP64",
    "side_effect_risk": "FP64",
    "benefit": "FP64",
    "confidence": "FP64",
    "percentile": "FP64",
    "cpic_action": "BYTES",
    "dose_adjustment_percent": "FP64",
    "flagged": "BOOL",
    "metabolizer_status": "BYTES",
    "recommendation": "BYTES",
    "genotype_used": "BOOL",
}


@dataclass(frozen=True)
class StoredPatient(Stored):
    condition: str | None = None
    candidates: tuple[str, ...] | None = None


@dataclass
class Part:
    key: str
    where: str
    case: PatientCase
    condition: str | None = None
    candidates: tuple[str, ...] | None = None
    plan: tuple = field(default=())


class MedicationResponseModel(FamilyModel):
    max_instances = 32  # patients per request: each ranks up to 64 drugs
    derived_features = DRIFT_FEATURES  # per answered patient, see ``_payload_row``

    def __init__(self, loader, history_source=None, payload_log=None, audit=None):
        super().__init__(MODEL_NAME, loader, history_source, payload_log, audit)

    @staticmethod
    def servable_from(python_model):
        return python_model.predictor

    def get_input_types(self) -> list[dict]:
        return [{"name": KEY, "datatype": "BYTES", "shape": [-1]}] + [
            {"name": name, "datatype": "BYTES", "shape": [-1]} for name in V2_FIELDS
        ]

    def get_output_types(self) -> list[dict]:
        return [{"name": n, "datatype": t, "shape": [-1]} for n, t in OUTPUTS.items()]

    # -- requests -> one part per patient -------------------------------------------------
    def _part(self, key: str, where: str, fields: dict, condition, candidates):
        if condition is not None and not isinstance(condition, str):
            raise InvalidInput(f"{where}.condition must be a text such as 'MDD'")
        if candidates is not None:
            if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
                raise InvalidInput(f"{where}.candidates must be a list of drug names")
            candidates = tuple(candidates)
        if not any(fields.get(f) not in (None, "", [], {}) for f in FIELDS):
            return StoredPatient(key, where, condition or None, candidates)
        from novamind_core.families.pharmacogenomics.patient_input import case_from_fields

        try:
            case = case_from_fields(fields, where, self.servable.catalog.doses)
        except ValidationError as exc:
            raise InvalidInput(str(exc)) from None
        return Part(key, where, case, condition or None, candidates)

    def parse_v1(self, instances: list[tuple[str, str, dict]]) -> list:
        return [
            self._part(key, where, body, body.get("condition"), body.get("candidates"))
            for where, key, body in instances
        ]

    def parse_v2(self, keys: list[str], columns: dict) -> list:
        rows = columns[KEY]
        if len(rows) != len(set(rows)):
            raise InvalidInput("inputs.patient_key: one row per patient")
        parts = []
        for i, key in enumerate(rows):
            value = {name: columns[name][i] for name in V2_FIELDS if name in columns}
            genotype = {
                gene: value[column]
                for gene, column in (("CYP2D6", "cyp2d6"), ("CYP2C19", "cyp2c19"))
                if value.get(column)
            }
            fields = {**value, "genotype": genotype}
            # an empty cell: the defaults; a cell of separators only: an empty list (refused)
            candidates = value.get("candidates") or ""
            listed = [c for c in candidates.split(";") if c.strip()] if candidates else None
            parts.append(
                self._part(key, f"inputs[{i}]", fields, value.get("condition") or None, listed)
            )
        return parts

    def from_store(self, ref: StoredPatient) -> Part:
        if self.history_source is None:
            raise InvalidInput(f"{ref.where}: send the patient's fields (no patient store here)")
        case = self.history_source(ref.key, 0)
        if case is None:
            raise InvalidInput(f"{ref.where}: no stored patient {ref.key}")
        return Part(ref.key, ref.where, case, ref.condition, ref.candidates)

    def check(self, parts: list[Part]) -> None:
        from novamind_core.families.pharmacogenomics.ranking import candidates_for

        for part in parts:
            try:
                part.plan = candidates_for(
                    self.servable,
                    part.case,
                    part.condition,
                    list(part.candidates) if part.candidates is not None else None,
                )
            except (ValidationError, NotFoundError) as exc:
                raise InvalidInput(f"{part.where}: {exc}") from None

    # -- one pass for a batch of requests -------------------------------------------------
    def predict_batch(self, servable, version, requests: list[list[Part]]) -> list[tuple]:
        from novamind_core.families.pharmacogenomics.ranking import rank_many

        parts = [part for request in requests for part in request]
        ranked = rank_many(servable, [(p.case, p.plan[0], p.plan[1]) for p in parts])
        results, first = [], 0
        for request in requests:
            last = first + len(request)
            mine = list(zip(request, ranked[first:last], strict=True))
            answer = _columns(mine)
            logged = [_payload_row(p, r, version) for p, r in mine] if self.payload_log else []
            results.append((answer, logged))
            first = last
        return results

    def answered_patients(self, answer: dict) -> list[str]:
        return sorted({key for key, _ in answer["v1"]})

    def v1_response(self, version: str, answer: dict) -> dict:
        return {
            "predictions": [
                {
                    KEY: key,
                    "model_version": version,
                    "genotype_used": bool(ranked[0]["genotype_used"]) if ranked else None,
                    "recommendations": ranked,
                }
                for key, ranked in answer["v1"]
            ]
        }


def _columns(mine: list) -> dict:
    rows = [(part.key, drug) for part, ranked in mine for drug in ranked]
    out: dict = {}
    for name, kind in OUTPUTS.items():
        if name == KEY:
            values = [key for key, _ in rows]
        else:
            values = [getattr(drug, name) for _, drug in rows]
        if kind == "FP64":
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif kind == "INT32":
            out[name] = np.array(values, dtype=np.int32)
        elif kind == "BOOL":
            out[name] = np.array(values, dtype=bool)
        else:
            out[name] = np.array(values, dtype=object)
    out["v1"] = [(part.key, [d.as_dict() for d in ranked]) for part, ranked in mine]
    return out


def _payload_row(part: Part, ranked: list, version) -> dict:
    """What the payload log keeps of one patient's request: the monitored features, the
    top efficacy score, and whether a genotype was used — no genotype text, no history."""
    from novamind_core.families.pharmacogenomics.cases import cyp2d6_activity, genotype_features

    features = genotype_features(part.case.diplotypes)[None, :]
    return {
        "logged_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "model_version": str(version),
        KEY: part.key,
        "cyp2d6_activity_score": float(cyp2d6_activity(features)[0]),
        "prior_trials": float(min(len(part.case.history), MAX_HISTORY)),
        "candidates": float(len(ranked)),
        "genotype_used": bool(part.case.genotyped),
        PREDICTION: max((d.efficacy_score for d in ranked), default=float("nan")),
    }
