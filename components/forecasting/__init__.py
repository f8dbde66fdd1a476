"""KFP components of the symptom-forecasting pipeline (novamind_core.families.forecasting)."""
