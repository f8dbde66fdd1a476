"""A patient's daily history from the encrypted store, for requests by pseudonym."""

from __future__ import annotations

import pandas as pd

from novamind_core.families.biometric.alignment import align
from novamind_core.families.biometric.signals import KEY, SIGNALS
from novamind_core.infrastructure.serving.stored_tables import StoredTables

TABLES = ("symptom_observations", "biometrics")


def daily_history_source(store, audit):
    """``history(pseudonym, days)``: the patient's aligned daily rows over the last
    ``days`` days of records in the latest dataset version, or None; each read audited."""
    tables = StoredTables(store, TABLES)

    def history(key: str, days: int) -> pd.DataFrame | None:
        version, frames = tables.rows(key)
        if all(frame.empty for frame in frames.values()):
            return None
        audit.record("read", f"{version}/patient", purpose="serve correlation", patient=key)
        frame = align(frames["symptom_observations"], frames["biometrics"]).to_frame()
        frame = frame[frame["day"] > frame["day"].max() - pd.Timedelta(days=days)]
        return frame[[KEY, "day", *SIGNALS, *(f"n_{s}" for s in SIGNALS)]]

    return history
