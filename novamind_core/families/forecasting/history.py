"""A patient's recent daily history from the encrypted store, for requests by pseudonym."""

from __future__ import annotations

import pandas as pd

from novamind_core.families.forecasting.variables import KEY, VARIABLES
from novamind_core.infrastructure.serving.stored_tables import StoredTables

TABLES = ("symptom_observations", "biometrics")


def daily_history_source(store, audit):
    """``history(pseudonym, days)``: the patient's daily means over the last ``days`` (+ 6)
    days of records in the latest dataset version, or None; each read is audited."""
    tables = StoredTables(store, TABLES)

    def history(key: str, days: int) -> pd.DataFrame | None:
        version, frames = tables.rows(key)
        rows = pd.concat(list(frames.values()))
        if rows.empty:
            return None
        audit.record("read", f"{version}/patient", purpose="serve forecast", patient=key)
        rows = rows.assign(day=rows["recorded_at"].dt.normalize())
        values = [c for c in VARIABLES if c in rows]
        daily = rows.groupby("day")[values].mean().reset_index()
        daily = daily[daily["day"] > daily["day"].max() - pd.Timedelta(days=days + 6)]
        return daily.assign(**{KEY: key})

    return history
