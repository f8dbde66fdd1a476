"""The MLflow pyfunc form of a registered ``medication-response`` version: the GNN, its
genotype-blind twin and the catalog, predicting (patient, drug) pairs."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from novamind_core.families.pharmacogenomics.cases import KEY

INPUT_COLUMNS = (KEY, "drug", "diagnosis", "age_band", "sex", "cyp2d6", "cyp2c19", "history")
OUTPUT_COLUMNS = (KEY, "drug", "response_probability", "side_effect_probability", "genotype_used")


class MedicationResponsePyfunc(mlflow.pyfunc.PythonModel):
    """Input: one row per (patient, candidate drug) with the patient's fields (genotype
    columns as diplotype text, empty when not genotyped; history as JSON text); output:
    the two probabilities per row and whether the genotype was used."""

    def load_context(self, context) -> None:
        from novamind_core.families.pharmacogenomics.bundle import Predictor

        self.predictor = Predictor(Path(context.artifacts["bundle"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from novamind_core.families.pharmacogenomics.patient_input import case_from_fields

        cases, drugs = [], []
        for i, row in enumerate(model_input.to_dict("records")):
            genotype = {
                gene: row.get(column) or None
                for gene, column in (("CYP2D6", "cyp2d6"), ("CYP2C19", "cyp2c19"))
                if isinstance(row.get(column), str) and row.get(column).strip()
            }
            cases.append(
                case_from_fields(
                    {**row, "genotype": genotype}, f"row {i}", self.predictor.catalog.doses
                )
            )
            drugs.append(str(row["drug"]).strip().lower())
        p = self.predictor.predict(cases, drugs)
        return pd.DataFrame(
            {
                KEY: model_input[KEY].to_numpy(),
                "drug": drugs,
                "response_probability": p["response"].round(6),
                "side_effect_probability": p["side_effect"].round(6),
                "genotype_used": p["genotype_used"],
            }
        )


def input_example() -> pd.DataFrame:
    """A made-up patient (no real patient's data in the registry): three candidates, one
    earlier trial; the third row without a genotype."""
    history = json.dumps(
        [{"drug": "sertraline", "dose_mg": 100, "response": False, "side_effects": ["nausea"]}]
    )
    base = {
        KEY: "p_" + "0" * 24,
        "diagnosis": "MDD",
        "age_band": "35-44",
        "sex": "F",
        "history": history,
    }
    return pd.DataFrame(
        [
            {**base, "drug": "escitalopram", "cyp2d6": "*1/*4", "cyp2c19": "*2/*2"},
            {**base, "drug": "venlafaxine", "cyp2d6": "*1/*4", "cyp2c19": "*2/*2"},
            {**base, "drug": "bupropion", "cyp2d6": "", "cyp2c19": ""},
        ],
        columns=list(INPUT_COLUMNS),
    )
