"""Symptom forecasting: daily grid, splits, models, ensemble, evaluation, packaging."""
