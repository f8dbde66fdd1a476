"""Shared fixtures: a small valid cohort on disk, and an isolated configuration."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("COLUMNS", "250")  # wide console: reports are not folded in tests

from novamind_core.infrastructure.raw_tables import write_tables
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate

TEST_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
AUDIT_KEY = base64.urlsafe_b64encode(b"a" * 32).decode()  # the audit trail's own key


@pytest.fixture(scope="session")
def small_cohort():
    """12 patients x 40 days: small enough for fast validation, rich enough to mutate."""
    return generate(CohortConfig(patients=12, days=40, seed=3))


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory, small_cohort) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    write_tables(small_cohort.tables, out)
    return out


@pytest.fixture
def raw_dir(tmp_path, small_cohort_dir) -> Path:
    """A private copy of the small cohort that a test may break."""
    target = tmp_path / "raw"
    shutil.copytree(small_cohort_dir, target)
    return target


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """Point the platform at a private data dir with a known key; return that dir."""
    data_dir = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("NOVAMIND_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NOVAMIND_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NOVAMIND_ENCRYPTION_KEY", TEST_KEY)
    monkeypatch.setenv("NOVAMIND_AUDIT_KEY", AUDIT_KEY)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()
