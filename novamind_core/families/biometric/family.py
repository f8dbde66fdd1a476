"""The biometric-correlation family as the platform sees it (see ``family_descriptor``)."""

from __future__ import annotations

from novamind_core.families.biometric.params import check_correlation_params
from novamind_core.infrastructure.family_descriptor import Family, MetricColumn, PipelineEntry

MODEL_NAME = "biometric-correlator"
TRAINING_PIPELINE = "biometric-correlation"

CORRELATION = Family(
    name="biometric correlation",
    model_name=MODEL_NAME,
    pipelines=(
        PipelineEntry(
            TRAINING_PIPELINE,
            "pipelines.biometric_correlation:biometric_correlation",
            "validate → align → correlate (lead–lag, directed, null check) ∥ train BiLSTM, TFT, "
            "HFBN, aligner → evaluate predictors → register",
            check_correlation_params,
        ),
    ),
    serving_class="novamind_core.families.biometric.serving:BiometricCorrelatorModel",
    history_source="novamind_core.families.biometric.history:daily_history_source",
    review_content="novamind_core.families.biometric.review:CORRELATION_REVIEW",
    drift_features=(),  # its answers are analyses, not predictions from fitted weights
    headline_metrics=(
        MetricColumn("patients", "patients", ".0f"),
        MetricColumn("significant", "significant", ".0f"),
        MetricColumn("edges", "edges", ".0f"),
        MetricColumn("null p<.05", "null_rejection_rate", ".3f"),
        MetricColumn("MASE", "predictor_mase", ".3f"),
    ),
)
