"""Synthetic cohort: realistic raw source-system tables with planted ground truth."""
