"""The aligned daily grid of a stored dataset version (an audited, decrypted read)."""

from __future__ import annotations

from novamind_core.families.biometric.alignment import AlignedCohort, align

TABLES = ("patients", "symptom_observations", "biometrics")  # what the pipeline validates


def stored_grid(store, version: str, audit, purpose: str) -> tuple[str, AlignedCohort]:
    """(the version read, its aligned grid); ``version`` may be ``latest``."""
    version, grid, _ = stored_grid_and_readings(store, version, audit, purpose)
    return version, grid


def stored_grid_and_readings(store, version: str, audit, purpose: str):
    """(the version read, its aligned grid, the raw wearable table)."""
    version = store.manifest(version)["version"]
    observations = store.read(version, "symptom_observations")
    biometrics = store.read(version, "biometrics")
    audit.record("read", version, purpose=purpose)
    return version, align(observations, biometrics), biometrics
