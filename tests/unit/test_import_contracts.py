"""The dependency rule is checked by import-linter; prove the contract bites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


PACKAGES = ("novamind_core", "serving", "components", "pipelines")


def lint(tmp_path: Path, inject_into: str, line: str) -> subprocess.CompletedProcess:
    """import-linter over a copy of the checked packages, with ``line`` added to one
    module (created when it does not exist, e.g. a second model family)."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / inject_into
    target.parent.mkdir(parents=True, exist_ok=True)
    before = target.read_text() if target.exists() else ""
    target.write_text(before + f"\n{line}\n")
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.skipif(not LINT.exists(), reason="import-linter not installed")
@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("novamind_core/domain/results.py", "import mlflow", "imports no framework"),
        ("novamind_core/domain/patients.py", "import torch", "imports no framework"),
        (
            "novamind_core/application/deidentify.py",
            "import novamind_core.infrastructure.settings",
            "Dependencies point inward",
        ),
        (  # shared infrastructure knows no family
            "novamind_core/infrastructure/composition.py",
            "import novamind_core.families.forecasting.steps",
            "Dependencies point inward",
        ),
        (  # a family does not reach up into the serving entry point
            "novamind_core/families/forecasting/serving.py",
            "import serving.server",
            "Dependencies point inward",
        ),
        (  # an arrow back up: a component importing a pipeline
            "components/trigger_retraining.py",
            "import pipelines.symptom_forecasting",
            "Dependencies point inward",
        ),
        (  # a second family that borrows the first one's code
            "novamind_core/families/correlation/__init__.py",
            "import novamind_core.families.forecasting.imputation",
            "Model families are independent",
        ),
    ],
)
def test_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    result = lint(tmp_path, module, line)
    assert result.returncode != 0, result.stdout
    assert contract in result.stdout


@pytest.mark.skipif(not LINT.exists(), reason="import-linter not installed")
def test_current_code_keeps_every_contract(tmp_path):
    result = lint(tmp_path, "novamind_core/domain/__init__.py", "")
    assert result.returncode == 0, result.stdout
