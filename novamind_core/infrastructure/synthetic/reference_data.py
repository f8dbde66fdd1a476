"""Reference data shipped with the package: allele frequencies and the drug catalog."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """Load ``data/<name>.json`` from this package."""
    text = resources.files(__package__).joinpath("data", f"{name}.json").read_text("utf-8")
    return json.loads(text)


def allele_frequencies(gene: str) -> dict[str, float]:
    """Star-allele frequencies of one gene, renormalized to sum to 1."""
    table = load("allele_frequencies")[gene]
    total = sum(table.values())
    return {allele: freq / total for allele, freq in table.items()}


def medication_catalog() -> list[dict[str, Any]]:
    return list(load("medications")["medications"])
