"""Two Optuna workers tune one XGBoost study together through the machine's PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.postgres

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

WORKER = """
import sys, numpy as np
from novamind_core.families.forecasting.gradient_boosting import tune
rng = np.random.default_rng(0)
x = rng.normal(size=(400, 6)).astype("float32")
y = np.stack([x[:, 0] + 0.1 * rng.normal(size=400) for _ in range(3)], axis=1)
study = tune(x, y, np.arange(400), trials=int(sys.argv[3]), seed=int(sys.argv[4]),
             storage=sys.argv[1], study_name=sys.argv[2], n_jobs=1)
print(len(study.trials))
"""


def _connect():
    import psycopg2

    return psycopg2.connect(ADMIN_DSN, connect_timeout=3)


@pytest.fixture
def postgres_database():
    """A throw-away database on the local PostgreSQL (started if it is not running)."""
    import psycopg2

    try:
        admin = _connect()
    except psycopg2.OperationalError:
        subprocess.run(START, shell=True, check=False, capture_output=True)
        time.sleep(3)
        try:
            admin = _connect()
        except psycopg2.OperationalError as exc:
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    admin.autocommit = True
    name = f"novamind_optuna_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def test_two_workers_share_one_study(postgres_database):
    import optuna

    study_name = "shared-study"
    # create the schema once, so the two workers do not race to create tables
    optuna.create_study(study_name=study_name, storage=postgres_database, direction="minimize")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, postgres_database, study_name, "4", str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name=study_name, storage=postgres_database)
    assert len(study.trials) == 8
    assert sorted(t.number for t in study.trials) == list(range(8))
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 8
    assert study.best_value < 0.5  # the signal (x0) is learnable: MAE well below y's spread
