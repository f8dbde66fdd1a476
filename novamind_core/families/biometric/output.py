"""An analysis written out: the file of every test (CSV or JSON), written whole or not
at all, and the rows a person reads."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.analysis import COLUMNS, Analysis

EDGE_COLUMNS = (
    "biometric",
    "symptom",
    "lag_days",
    "relation",
    "strength",
    "p_value",
    "q_value",
    "n_obs",
)


def format_q(value: float) -> str:
    """A p- or q-value as read: one that underflowed to 0 is below the smallest double."""
    return "< 1e-300" if value == 0 else f"{value:.2g}"


def records(frame) -> list[dict]:
    """Rows as plain JSON values at full precision (``to_json`` rounds to decimal places:
    a q-value of 1e-12 would become 0)."""
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def document(analysis: Analysis, version: str | None = None) -> dict:
    """Everything of an analysis as plain JSON values (no NaN)."""
    tests = analysis.tests[list(COLUMNS)]
    edges = analysis.directed.edges[list(EDGE_COLUMNS)]
    return {
        "dataset_version": version,
        "patient": analysis.patient,
        "patients": analysis.patients,
        "settings": analysis.settings.to_dict(),
        "tests": records(tests),
        "causal_edges": records(edges),
        "exclusions": [asdict(e) for e in analysis.exclusions],
        "temporal_patterns": [],
    }


def write(analysis: Analysis, path: Path, version: str | None = None) -> Path:
    """``path`` ends in .csv (every test, one row each) or .json (the whole analysis);
    written to a temporary file beside it, then renamed: never half a file."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".json"}:
        raise ValidationError(f"--out must end in .csv or .json, got {path.name!r}")
    if not path.parent.exists():
        raise ValidationError(f"--out: the folder {str(path.parent)!r} does not exist")
    if suffix == ".csv":
        text = analysis.tests[list(COLUMNS)].to_csv(index=False)
    else:
        text = json.dumps(document(analysis, version), indent=2)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
