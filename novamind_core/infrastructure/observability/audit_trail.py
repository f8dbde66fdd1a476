"""Append-only, hash-chained audit trail (JSON lines).

Each entry carries ``seq``, the hash of the previous entry and its own hash over its
content, so an edited, removed or reordered entry breaks the chain at a place that
``verify`` names.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

GENESIS = "0" * 64


def _entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _last_line(handle, chunk: int = 4096) -> str | None:
    """The last non-empty line of a file, read backwards from its end (O(line), not O(file))."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    data = b""
    position = end
    raw = handle.buffer
    while position > 0:
        step = min(chunk, position)
        position -= step
        raw.seek(position)
        data = raw.read(step) + data
        lines = [line for line in data.split(b"\n") if line.strip()]
        if len(lines) >= 2 or (lines and position == 0):
            return lines[-1].decode("utf-8")
    return None


@dataclass(frozen=True)
class ChainProblem:
    line: int
    seq: int | None
    problem: str


class HashChainAuditTrail:
    """AuditTrail adapter writing to one JSONL file, safe for concurrent writers."""

    def __init__(self, path: Path, actor: str | None = None) -> None:
        self.path = path
        self.actor = actor or os.environ.get("NOVAMIND_ACTOR") or getpass.getuser()

    def record(self, action: str, resource: str, **details: object) -> None:
        self.record_many([(action, resource, details)])

    def record_many(self, events: list[tuple[str, str, dict]]) -> None:
        """Append several entries under one lock and one fsync (group commit): each is
        chained to the one before, exactly as if recorded one by one."""
        if not events:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                last = _last_line(handle)
                previous = json.loads(last) if last else None
                lines = []
                for action, resource, details in events:
                    entry = {
                        "seq": (previous["seq"] + 1) if previous else 1,
                        "timestamp": datetime.now(UTC).isoformat(),
                        "actor": self.actor,
                        "action": action,
                        "resource": resource,
                        "details": details,
                        "prev_hash": previous["hash"] if previous else GENESIS,
                    }
                    # hash what will be read back (details through JSON, as written)
                    entry = json.loads(json.dumps(entry, sort_keys=True, default=str))
                    entry["hash"] = _entry_hash(entry)
                    lines.append(json.dumps(entry, sort_keys=True) + "\n")
                    previous = entry
                handle.seek(0, os.SEEK_END)
                handle.write("".join(lines))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def verify(self) -> list[ChainProblem]:
        """Every break in the chain, in file order; empty when the trail is intact."""
        problems: list[ChainProblem] = []
        if not self.path.exists():
            return problems
        previous_hash, expected_seq = GENESIS, 1
        for number, line in enumerate(self.path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(ChainProblem(number, None, "line is not valid JSON"))
                continue
            seq = entry.get("seq")
            if entry.get("hash") != _entry_hash(entry):
                problems.append(ChainProblem(number, seq, "entry content was edited"))
            if seq != expected_seq:
                kind = "removed" if isinstance(seq, int) and seq > expected_seq else "reordered"
                problems.append(
                    ChainProblem(
                        number, seq, f"expected entry {expected_seq}, found {seq}: entries {kind}"
                    )
                )
            elif entry.get("prev_hash") != previous_hash:
                problems.append(ChainProblem(number, seq, "does not follow the entry before it"))
            previous_hash = entry.get("hash", "")
            expected_seq = (seq + 1) if isinstance(seq, int) else expected_seq + 1
        return problems
