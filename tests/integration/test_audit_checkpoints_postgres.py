"""The audit trail's signed checkpoints in the machine's PostgreSQL, as in production."""

from __future__ import annotations

import pytest

from novamind_core.domain.errors import ServiceUnavailableError
from novamind_core.infrastructure.observability.audit_checkpoints import SqlCheckpoints
from novamind_core.infrastructure.observability.audit_trail import KeyedAuditTrail
from tests.integration.test_optuna_postgres import postgres_database  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres
KEY = b"q" * 32


def test_checkpoints_in_postgres_catch_a_cut_and_a_deleted_trail(postgres_database, tmp_path):  # noqa: F811
    trail = KeyedAuditTrail(
        tmp_path / "audit.jsonl",
        KEY,
        SqlCheckpoints(postgres_database),
        trail="pg-test",
        checkpoint_seconds=0.0,
    )
    for i in range(5):
        trail.record("read", f"v{i}", purpose="test")
    assert trail.verify() == []
    assert [c.seq for c in trail.checkpoints.all("pg-test")] == [1, 2, 3, 4, 5]
    lines = trail.path.read_text().splitlines()
    trail.path.write_text("\n".join(lines[:3]) + "\n")
    assert any("truncated" in p.problem for p in trail.verify())
    trail.path.unlink()
    assert "the trail file is missing" in trail.verify()[0].problem


def test_an_unreachable_checkpoint_store_stops_no_audited_action_but_verify_says_so(
    tmp_path, caplog
):
    url = "postgresql+psycopg2://novamind:s3cret@127.0.0.1:9/audit"
    trail = KeyedAuditTrail(tmp_path / "audit.jsonl", KEY, SqlCheckpoints(url))
    trail.record("read", "v1", purpose="test")  # written, the checkpoint tried later
    assert [e["seq"] for e in trail.entries()] == [1]
    assert "could not write an audit checkpoint" in caplog.text and "s3cret" not in caplog.text
    with pytest.raises(ServiceUnavailableError) as caught:
        trail.verify()
    assert "127.0.0.1:9/audit" in str(caught.value) and "s3cret" not in str(caught.value)
