"""The pharmacogenomics family as the platform sees it (see ``family_descriptor``)."""

from __future__ import annotations

from novamind_core.infrastructure.family_descriptor import Family, MetricColumn, PipelineEntry

MODEL_NAME = "medication-response"
TRAINING_PIPELINE = "pharmacogenomics"
DRIFT_FEATURES = ("cyp2d6_activity_score", "prior_trials", "candidates")


def _check(params: dict, settings) -> dict:
    from novamind_core.families.pharmacogenomics.params import check_pgx_params

    return check_pgx_params(params, settings)


PHARMACOGENOMICS = Family(
    name="pharmacogenomics",
    model_name=MODEL_NAME,
    pipelines=(
        PipelineEntry(
            TRAINING_PIPELINE,
            "pipelines.pharmacogenomics:pharmacogenomics",
            "validate → graphs → split by patient → GNN ∥ baselines → evaluate → register",
            _check,
        ),
    ),
    serving_class="novamind_core.families.pharmacogenomics.serving:MedicationResponseModel",
    history_source="novamind_core.families.pharmacogenomics.history:case_source",
    review_content="novamind_core.families.pharmacogenomics.review:PGX_REVIEW",
    drift_features=DRIFT_FEATURES,
    headline_metrics=(
        MetricColumn("side-effect AUC", "gnn.side_effect.roc_auc"),
        MetricColumn("blind AUC", "genotype_blind.side_effect.roc_auc"),
        MetricColumn("XGBoost AUC", "xgboost.side_effect.roc_auc"),
        MetricColumn("ECE", "gnn.side_effect.ece"),
    ),
)
