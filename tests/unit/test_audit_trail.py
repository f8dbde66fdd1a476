"""The audit trail shows tampering: keyed entries, signed checkpoints kept elsewhere, and a
torn tail that is reported and repaired, never fatal to later writes."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from novamind_core.infrastructure.observability.audit_checkpoints import (
    Checkpoint,
    SqlCheckpoints,
    sign,
)
from novamind_core.infrastructure.observability.audit_trail import KeyedAuditTrail, _mac

KEY = b"a" * 32


def trail_with(tmp_path, n=4, key=KEY, every_write=True):
    """A trail of ``n`` entries whose checkpoints (one per write) go to a SQLite file in
    another folder than the trail."""
    trail = KeyedAuditTrail(
        tmp_path / "audit" / "audit.jsonl",
        key,
        SqlCheckpoints(f"sqlite:///{tmp_path / 'elsewhere' / 'checkpoints.db'}"),
        actor="tester",
        checkpoint_seconds=0.0 if every_write else 3600.0,
    )
    for i in range(n):
        trail.record("read", f"v000{i}", purpose="test")
    return trail


def lines(trail) -> list[str]:
    return trail.path.read_text().splitlines()


def write(trail, content: list[str]) -> None:
    trail.path.write_text("\n".join(content) + "\n")


def problems_of(trail) -> list[str]:
    return [p.problem for p in trail.verify()]


def test_intact_trail_verifies(tmp_path):
    trail = trail_with(tmp_path)
    assert trail.verify() == []
    entries = trail.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["actor"] == "tester"
    assert trail.path.stat().st_mode & 0o777 == 0o600  # readable by the owner only


def test_edited_entry_is_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    entry = json.loads(content[1])
    entry["actor"] = "mallory"
    content[1] = json.dumps(entry, sort_keys=True)
    write(trail, content)
    problems = trail.verify()
    assert [(p.line, p.problem) for p in problems] == [(2, "entry content was edited")]


def edit_and_rechain(trail, mac) -> None:
    """Edit entry 2, then give it and every later entry a new hash made by ``mac``."""
    entries = [json.loads(line) for line in lines(trail)]
    entries[1]["details"] = {"purpose": "nothing to see"}
    previous = entries[0]["hash"]
    for entry in entries[1:]:
        entry["prev_hash"] = previous
        entry["hash"] = previous = mac(entry)
    write(trail, [json.dumps(e, sort_keys=True) for e in entries])


def sha256_of(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def test_an_edit_rehashed_forward_without_the_key_is_caught(tmp_path):
    """The old unkeyed chain's weakness: re-hash every entry after an edit (sha256, or
    an HMAC under a guessed key) and the chain looked intact."""
    trail = trail_with(tmp_path)
    edit_and_rechain(trail, sha256_of)
    assert problems_of(trail).count("entry content was edited") == 3


def test_an_edit_rechained_forward_with_the_key_is_caught_by_the_checkpoints(tmp_path):
    """An insider holding the audit key re-signs the chain: the checkpoints, kept
    elsewhere, still name the entries they recorded."""
    trail = trail_with(tmp_path)
    edit_and_rechain(trail, lambda entry: _mac(KEY, entry))
    problems = problems_of(trail)
    assert problems and all("replaced or rewritten" in p for p in problems)


def test_removed_entry_is_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    del content[2]
    write(trail, content)
    problems = trail.verify()
    assert problems and problems[0].line == 3 and "removed" in problems[0].problem


def test_reordered_entries_are_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    content[1], content[2] = content[2], content[1]
    write(trail, content)
    problems = trail.verify()
    assert problems and problems[0].line == 2
    assert any("reordered" in p.problem for p in problems)


def test_entries_cut_from_the_end_are_caught(tmp_path):
    trail = trail_with(tmp_path)
    write(trail, lines(trail)[:2])  # a chain that verifies on its own
    problems = problems_of(trail)
    assert any("entries after 2 are missing" in p and "truncated" in p for p in problems)


def test_a_file_replaced_by_another_valid_chain_is_caught(tmp_path):
    trail = trail_with(tmp_path)
    trail.path.unlink()
    other = KeyedAuditTrail(trail.path, KEY, actor="mallory")  # same key, no checkpoints
    for i in range(6):
        other.record("read", f"v{i}", purpose="cover")
    assert other.verify() == []  # on its own, a perfect chain
    assert any("replaced or rewritten" in p for p in problems_of(trail))


def test_a_deleted_trail_is_caught(tmp_path):
    trail = trail_with(tmp_path)
    trail.path.unlink()
    (problem,) = trail.verify()
    assert problem.line is None and "the trail file is missing" in problem.problem


def test_a_forged_checkpoint_is_caught(tmp_path):
    trail = trail_with(tmp_path)
    head = trail.entries()[-1]
    trail.checkpoints.add(sign(b"x" * 32, trail.trail, head["seq"], head["hash"]))
    forged = Checkpoint(trail.trail, 2, "0" * 64, "2026-01-01T00:00:00", "f" * 64)
    trail.checkpoints.add(forged)
    assert problems_of(trail).count("a checkpoint is not signed with the audit key (forged)") == 2


def test_checkpoints_are_written_at_most_every_interval(tmp_path):
    trail = trail_with(tmp_path, n=5, every_write=False)
    assert len(trail.checkpoints.all(trail.trail)) == 1  # the first write only
    trail.checkpoint()  # e.g. when a server stops
    (_, last) = trail.checkpoints.all(trail.trail)
    assert last.seq == 5


def test_a_torn_tail_never_fails_later_writes_and_is_repaired_on_request(tmp_path):
    trail = trail_with(tmp_path, n=3)
    whole = trail.path.read_bytes()
    trail.path.write_bytes(whole + b'{"seq": 4, "timestamp": "2026')  # a writer killed
    trail.record("read", "v9", purpose="after the crash")  # goes on
    problems = trail.verify()
    assert [(p.line, p.problem) for p in problems] == [(4, "line is not an audit entry")]
    assert [e["seq"] for e in trail.entries()] == [1, 2, 3, 4]  # chained past the torn line
    done = trail.repair()
    assert done.lines == [4] and done.quarantine.read_bytes().startswith(b'{"seq": 4')
    assert trail.verify() == []
    repaired = trail.entries()[-1]
    assert repaired["action"] == "audit_repaired" and repaired["details"]["lines"] == [4]


def test_a_torn_last_line_is_named_as_such(tmp_path):
    trail = trail_with(tmp_path, n=2)
    with open(trail.path, "ab") as handle:
        handle.write(b'{"seq": 3, "acti')
    (problem,) = trail.verify()
    assert problem.line == 3 and "torn last line" in problem.problem


@pytest.mark.parametrize(
    "garbage",
    [
        b"[1, 2, 3]",
        b"5",
        b'"a string"',
        b"\xff\xfe not utf-8 \x80",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser's recursion limit
        b'{"seq": "7", "hash": 5}',
        b"{}",
    ],
    ids=["list", "number", "string", "bytes", "deep", "wrong-types", "empty-object"],
)
def test_verify_never_crashes_on_any_line(tmp_path, garbage):
    trail = trail_with(tmp_path, n=2)
    content = trail.path.read_bytes().split(b"\n")
    content.insert(1, garbage)
    trail.path.write_bytes(b"\n".join(content))
    problems = trail.verify()
    assert (2, "line is not an audit entry") in [(p.line, p.problem) for p in problems]
    trail.record("read", "v3", purpose="still writable")
    assert trail.entries()[-1]["seq"] == 3


def test_group_commit_chains_entries_as_if_recorded_one_by_one(tmp_path):
    trail = trail_with(tmp_path, n=1)

    def writer(n):
        for i in range(10):
            trail.record_many(
                [("predict", f"model/{n}", {"patients": [f"p_{i:024x}"]}) for _ in range(3)]
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = trail.entries()
    assert [e["seq"] for e in entries] == list(range(1, 122))
    assert trail.verify() == []
    assert entries[5]["prev_hash"] == entries[4]["hash"]
    trail.record_many([])  # nothing to write is not an entry
    assert len(trail.entries()) == 121


def test_entries_written_with_another_key_do_not_verify(tmp_path):
    trail = trail_with(tmp_path, n=2)
    KeyedAuditTrail(trail.path, b"b" * 32).record("read", "v1", purpose="wrong key")
    assert (3, "entry content was edited") in [(p.line, p.problem) for p in trail.verify()]


def test_checkpoints_kept_as_objects_catch_a_cut_trail(tmp_path):
    """On a cluster the checkpoints go to the object store, one object each."""
    from novamind_core.infrastructure.observability.audit_checkpoints import ObjectCheckpoints
    from novamind_core.infrastructure.store.location import StoreLocation

    store = ObjectCheckpoints(StoreLocation.from_uri(str(tmp_path / "bucket" / "checkpoints")))
    trail = KeyedAuditTrail(tmp_path / "audit.jsonl", KEY, store, checkpoint_seconds=0.0)
    for i in range(4):
        trail.record("read", f"v{i}", purpose="test")
    assert [c.seq for c in store.all(trail.trail)] == [1, 2, 3, 4]
    assert trail.verify() == []
    write(trail, lines(trail)[:2])
    assert any("truncated" in p for p in problems_of(trail))
