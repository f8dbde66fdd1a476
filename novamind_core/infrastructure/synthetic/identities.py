"""Realistic-looking synthetic patient identities (MRN-like ids, names, birth dates).

They exist to prove that identifiers never leak past ingest: every value here is made
up, but shaped like the real thing.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Charlotte",
    "James",
    "Mia",
    "Benjamin",
    "Harper",
    "Lucas",
    "Evelyn",
    "Mason",
    "Abigail",
    "Ethan",
    "Emily",
    "Logan",
    "Ella",
    "Jacob",
    "Avery",
    "Michael",
    "Sofia",
    "Daniel",
    "Camila",
    "Henry",
    "Aria",
    "Jackson",
    "Scarlett",
    "Sebastian",
    "Layla",
    "Aiden",
    "Chloe",
    "Matthew",
    "Zoe",
    "Samuel",
    "Nora",
    "David",
    "Lily",
    "Joseph",
    "Hannah",
    "Carter",
    "Grace",
    "Owen",
    "Leah",
    "Wyatt",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
]

DIAGNOSES = ("MDD", "GAD", "BIPOLAR", "PTSD", "MIXED")
DIAGNOSIS_WEIGHTS = (0.40, 0.25, 0.10, 0.10, 0.15)


def make_patients(rng: np.random.Generator, n: int, reference_day: date) -> pd.DataFrame:
    """The ``patients`` table: id, name, birth date, sex, primary diagnosis."""
    numbers = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    ages_days = rng.integers(18 * 365, 76 * 365, size=n)
    births = [reference_day - timedelta(days=int(d)) for d in ages_days]
    names = [
        f"{FIRST_NAMES[i]} {LAST_NAMES[j]}"
        for i, j in zip(
            rng.integers(len(FIRST_NAMES), size=n),
            rng.integers(len(LAST_NAMES), size=n),
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "patient_id": [f"MRN{k:07d}" for k in numbers],
            "name": names,
            "birth_date": pd.to_datetime(births),
            "sex": rng.choice(["F", "M", "X"], size=n, p=[0.58, 0.41, 0.01]),
            "primary_diagnosis": rng.choice(DIAGNOSES, size=n, p=DIAGNOSIS_WEIGHTS),
        }
    )
