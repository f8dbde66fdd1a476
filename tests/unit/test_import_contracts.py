"""The dependency rule is checked by import-linter; prove the contract bites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(tmp_path: Path, inject_into: str, line: str) -> subprocess.CompletedProcess:
    shutil.copytree(
        ROOT / "novamind_core",
        tmp_path / "novamind_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / inject_into
    target.write_text(target.read_text() + f"\n{line}\n")
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
