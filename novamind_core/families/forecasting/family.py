"""The symptom-forecasting family as the platform sees it (see ``family_descriptor``)."""

from __future__ import annotations

from novamind_core.families.forecasting.params import check_training_params
from novamind_core.families.forecasting.variables import VARIABLES
from novamind_core.infrastructure.family_descriptor import Family, MetricColumn, PipelineEntry

MODEL_NAME = "symptom-forecaster"
TRAINING_PIPELINE = "symptom-forecasting"

FORECASTING = Family(
    name="symptom forecasting",
    model_name=MODEL_NAME,
    pipelines=(
        PipelineEntry(
            TRAINING_PIPELINE,
            "pipelines.symptom_forecasting:symptom_forecasting",
            "validate → impute → split → Transformer ∥ XGBoost → ensemble → evaluate → register",
            check_training_params,
        ),
    ),
    serving_class="novamind_core.families.forecasting.serving:SymptomForecasterModel",
    history_source="novamind_core.families.forecasting.history:daily_history_source",
    review_content="novamind_core.families.forecasting.review:FORECAST_REVIEW",
    drift_features=VARIABLES,
    headline_metrics=(
        MetricColumn("test MASE", "test.ensemble.mase"),
        MetricColumn("naive MASE", "test.seasonal_naive.mase"),
        MetricColumn("coverage", "test.ensemble.coverage", ".2f"),
    ),
)
