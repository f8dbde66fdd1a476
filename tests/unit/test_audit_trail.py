import json

from novamind_core.infrastructure.observability.audit_trail import HashChainAuditTrail


def trail_with(tmp_path, n=4):
    trail = HashChainAuditTrail(tmp_path / "audit.jsonl", actor="tester")
    for i in range(n):
        trail.record("read", f"v000{i}", purpose="test")
    return trail


def lines(trail):
    return trail.path.read_text().splitlines()


def test_intact_trail_verifies(tmp_path):
    trail = trail_with(tmp_path)
    assert trail.verify() == []
    entries = trail.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["actor"] == "tester"


def test_edited_entry_is_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    entry = json.loads(content[1])
    entry["actor"] = "mallory"
    content[1] = json.dumps(entry, sort_keys=True)
    trail.path.write_text("\n".join(content) + "\n")
    problems = trail.verify()
    assert [(p.line, p.problem) for p in problems] == [(2, "entry content was edited")]


def test_removed_entry_is_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    del content[2]
    trail.path.write_text("\n".join(content) + "\n")
    problems = trail.verify()
    assert problems and problems[0].line == 3 and "removed" in problems[0].problem


def test_reordered_entries_are_named(tmp_path):
    trail = trail_with(tmp_path)
    content = lines(trail)
    content[1], content[2] = content[2], content[1]
    trail.path.write_text("\n".join(content) + "\n")
    problems = trail.verify()
    assert problems and problems[0].line == 2
    assert any("reordered" in p.problem for p in problems)


def test_group_commit_chains_entries_as_if_recorded_one_by_one(tmp_path):
    import threading

    trail = HashChainAuditTrail(tmp_path / "audit.jsonl", actor="server")
    trail.record("read", "v0001/patients", purpose="start")

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
