"""Leakage-free split: calendar cut-offs for time, and whole held-out patients.

Forecast origins are assigned to a window by where their *targets* fall: an origin
belongs to train only if every target day lies before the validation cut-off, to
validation only if every target day lies before the test cut-off, and so on. Held-out
patients never appear in train or validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from novamind_core.domain import patient_split

KEY = "patient_key"


@dataclass(frozen=True)
class SplitPlan:
    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    held_out_patients: frozenset[str]

    def to_dict(self) -> dict:
        return {
            "validation_start": self.validation_start.isoformat(),
            "test_start": self.test_start.isoformat(),
            "held_out_patients": sorted(self.held_out_patients),
        }


def held_out(keys: list[str], share: float, seed: int) -> frozenset[str]:
    """A stable, seeded share of patients, chosen by hashing their pseudonym."""
    if share <= 0:
        return frozenset()
    order = patient_split.ranked(keys, seed)
    return frozenset(order[: patient_split.share_count(share, len(order))])


def plan_split(
    grid: pd.DataFrame, validation_days: int, test_days: int, held_out_share: float, seed: int
) -> SplitPlan:
    last = grid["day"].max()
    test_start = last - pd.Timedelta(days=test_days - 1)
    validation_start = test_start - pd.Timedelta(days=validation_days)
    keys = sorted(grid[KEY].unique())
    return SplitPlan(validation_start, test_start, held_out(keys, held_out_share, seed))


def assign_origins(origins: pd.DataFrame, horizon: int, plan: SplitPlan) -> pd.Series:
    """Window of each origin (columns patient_key, day): train/validation/test/heldout/none."""
    first_target = origins["day"] + pd.Timedelta(days=1)
    last_target = origins["day"] + pd.Timedelta(days=horizon)
    is_held = origins[KEY].isin(plan.held_out_patients)
    label = np.select(
        [
            is_held & (first_target >= plan.test_start),
            is_held,
            last_target < plan.validation_start,
            (first_target >= plan.validation_start) & (last_target < plan.test_start),
            first_target >= plan.test_start,
        ],
        ["heldout", "none", "train", "validation", "test"],
        default="none",
    )
    return pd.Series(label, index=origins.index, name="window")
