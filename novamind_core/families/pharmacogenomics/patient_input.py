"""A patient case from what a client sends (or the store holds), checked field by field.

Sent as JSON: ``genotype`` ({"CYP2D6": "*1/*4", ...}, optional: without it the
genotype-blind model answers), ``diagnosis``, ``age_band``, ``sex`` and ``history``
([{"drug", "dose_mg", "response", "side_effects"}], oldest first). Every error names the
field and what was wrong; none echoes a patient identifier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from novamind_core.domain.errors import ValidationError
from novamind_core.families.pharmacogenomics import cases as C
from novamind_core.families.pharmacogenomics.guidance import parse_diplotype, parse_gene

MAX_TRIALS = 50


def genotype_from(value, where: str) -> dict:
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f'{where}.genotype must be an object such as {{"CYP2D6": "*1/*4"}}')
    out = {}
    for gene_name, call in value.items():
        try:
            gene = parse_gene(str(gene_name))
            if call is None or (isinstance(call, str) and not call.strip()):
                continue  # a gene not genotyped
            if not isinstance(call, str):
                raise ValidationError(f"{gene.value} must be a diplotype text such as '*1/*4'")
            out[gene] = parse_diplotype(gene, call)
        except ValidationError as exc:
            raise ValidationError(f"{where}.genotype: {exc}") from None
    return out


def _choice(value, options: tuple[str, ...], field: str, where: str) -> str:
    text = str(value).strip().upper() if field != "age_band" else str(value).strip()
    if value is None or text not in options:
        raise ValidationError(f"{where}.{field} must be one of {', '.join(options)}")
    return text


def history_from(value, where: str, catalog: Mapping[str, tuple[float, float]]) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):  # a V2 BYTES tensor carries it as JSON text
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise ValidationError(f"{where}.history must be a JSON list of trials") from None
    if not isinstance(value, list):
        raise ValidationError(f"{where}.history must be a list of trials")
    if len(value) > MAX_TRIALS:
        raise ValidationError(f"{where}.history: at most {MAX_TRIALS} trials")
    trials = []
    for j, trial in enumerate(value):
        at = f"{where}.history[{j}]"
        if not isinstance(trial, Mapping):
            raise ValidationError(f"{at} must be an object with drug, dose_mg, response")
        drug = str(trial.get("drug", "")).strip().lower()
        if drug not in catalog:
            raise ValidationError(f"{at}.drug: unknown drug {trial.get('drug')!r}")
        dose = trial.get("dose_mg")
        if isinstance(dose, bool) or not isinstance(dose, int | float) or not 0 < dose <= 1000:
            raise ValidationError(f"{at}.dose_mg must be a number of mg/day in (0, 1000]")
        response = trial.get("response")
        if response is not None and not isinstance(response, bool):
            raise ValidationError(f"{at}.response must be true, false or null (not assessed)")
        effects = trial.get("side_effects") or []
        if isinstance(effects, str):
            effects = [e for e in effects.split(";") if e]
        if not isinstance(effects, list):
            raise ValidationError(f"{at}.side_effects must be a list of effects")
        trials.append(
            C.PriorTrial(
                drug,
                float(dose),
                response,
                bool(effects),
                bool(trial.get("discontinued_side_effects", False)),
            )
        )
    return tuple(trials)


def case_from_fields(
    fields: Mapping, where: str, doses: Mapping[str, tuple[float, float]]
) -> C.PatientCase:
    missing = [f for f in ("diagnosis", "age_band", "sex") if fields.get(f) in (None, "")]
    if missing:
        raise ValidationError(f"{where} needs {', '.join(missing)} (or only a patient_key)")
    return C.PatientCase(
        genotype_from(fields.get("genotype"), where),
        _choice(fields["diagnosis"], C.DIAGNOSES, "diagnosis", where),
        _choice(fields["age_band"], C.AGE_LABELS, "age_band", where),
        _choice(fields["sex"], C.SEXES, "sex", where),
        history_from(fields.get("history"), where, doses),
    )


def stored_case(tables: Mapping[str, pd.DataFrame]) -> C.PatientCase | None:
    """A stored patient's case from their rows of patients, genotypes, treatment_history."""
    found = C.patient_cases(tables["patients"], tables["genotypes"], tables["treatment_history"])
    return next(iter(found.values()), None)
