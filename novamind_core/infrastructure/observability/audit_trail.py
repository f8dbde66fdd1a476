"""Append-only audit trail (JSON lines) that shows tampering.

Each entry carries ``seq``, the MAC of the previous entry (``prev_hash``) and its own MAC
(``hash``): HMAC-SHA256 under the audit key (``NOVAMIND_AUDIT_KEY``, not the store's
key) over its content. Without the key no entry can be written, edited or re-chained so
that it verifies. Signed checkpoints of the head, written to a store outside the file
(``audit_checkpoints``) at most every few seconds per writer, show what a chain alone
cannot: entries cut from the end, the file replaced by another chain, or deleted.

A half-written last line (a writer killed mid-write) is a *torn tail*: later writes go on
(they start a new line and chain onto the last whole entry), ``verify`` names it, and
``repair`` moves it out of the file into a quarantine file and records that it did.
``verify`` reports every problem of any file — never raises on what it reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from novamind_core.infrastructure.observability.audit_checkpoints import sign, signed_by

log = logging.getLogger(__name__)
GENESIS = "0" * 64
FIELDS = ("seq", "timestamp", "actor", "action", "resource", "details", "prev_hash", "hash")


@dataclass(frozen=True)
class ChainProblem:
    line: int | None  # None: a problem of the trail as a whole (e.g. deleted)
    seq: int | None
    problem: str


@dataclass(frozen=True)
class Repair:
    lines: list[int]
    quarantine: Path | None


def _mac(key: bytes, entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hmac.new(key, json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def _entry(line: bytes) -> dict | None:
    """A line as an entry object, or None when it is not one (torn, garbage)."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("seq"), int):
        return None
    if not isinstance(value.get("hash"), str):
        return None
    return value


def _tail(handle, chunk: int = 8192) -> tuple[dict | None, bool, bool]:
    """(the last whole entry, whether a torn line follows it, whether the file lacks a
    final newline), read backwards from the end; further back only past a torn tail."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return None, False, False
    raw = handle.buffer
    raw.seek(end - 1)
    open_line = raw.read(1) != b"\n"
    position, data, torn = end, b"", False
    while position > 0:
        step = min(chunk, position)
        position -= step
        raw.seek(position)
        data = raw.read(step) + data
        lines = data.split(b"\n")
        whole = lines[1:] if position > 0 else lines  # the first may be cut by the chunk
        for line in reversed(whole):
            if not line.strip():
                continue
            entry = _entry(line)
            if entry is not None:
                return entry, torn, open_line
            torn = True
        data = lines[0] if position > 0 else b""
    return None, torn, open_line


class KeyedAuditTrail:
    """AuditTrail adapter writing to one JSONL file, safe for concurrent writers."""

    def __init__(
        self,
        path: Path,
        key: bytes,
        checkpoints=None,
        trail: str = "novamind",
        actor: str | None = None,
        checkpoint_seconds: float = 5.0,
    ) -> None:
        self.path = path
        self._key = key
        self.checkpoints = checkpoints
        self.trail = trail
        self.actor = actor or os.environ.get("NOVAMIND_ACTOR") or getpass.getuser()
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpointed_at: float | None = None

    # -- writing ---------------------------------------------------------------------------
    def record(self, action: str, resource: str, **details: object) -> None:
        self.record_many([(action, resource, details)])

    def record_many(self, events: list[tuple[str, str, dict]]) -> None:
        """Append several entries under one lock and one fsync (group commit): each is
        chained to the one before, exactly as if recorded one by one."""
        if not events:
            return
        with self._locked(), open(self.path, "a+", encoding="utf-8") as handle:
            if handle.tell() == 0:
                os.chmod(self.path, 0o600)
            previous, torn, open_line = _tail(handle)
            if torn:
                log.warning("the audit trail ends in a torn line: run `novamind audit repair`")
            lines = ["\n"] if open_line else []
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
                # sign what will be read back (details through JSON, as written)
                entry = json.loads(json.dumps(entry, sort_keys=True, default=str))
                entry["hash"] = _mac(self._key, entry)
                lines.append(json.dumps(entry, sort_keys=True) + "\n")
                previous = entry
            handle.seek(0, os.SEEK_END)
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        self._maybe_checkpoint(previous)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time, across processes: a lock file beside the trail (the
        trail itself may be replaced by ``repair``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _maybe_checkpoint(self, head: dict) -> None:
        """A checkpoint when the last is ``checkpoint_seconds`` old. The entries are on disk
        already: a checkpoint store that is away is logged and tried again at the next
        write, never the cause of a failed audited action."""
        now = time.monotonic()
        due = (
            self._checkpointed_at is None or now - self._checkpointed_at >= self.checkpoint_seconds
        )
        if self.checkpoints is None or not due:
            return
        try:
            self.checkpoints.add(sign(self._key, self.trail, head["seq"], head["hash"]))
        except Exception as exc:
            log.error("could not write an audit checkpoint: %s", exc)
            return
        self._checkpointed_at = now

    def checkpoint(self) -> None:
        """Write a checkpoint of the current head now (e.g. when a server stops)."""
        if self.checkpoints is None or not self.path.exists():
            return
        with self._locked(), open(self.path, encoding="utf-8") as handle:
            head, _, _ = _tail(handle)
        if head is not None:
            self.checkpoints.add(sign(self._key, self.trail, head["seq"], head["hash"]))
            self._checkpointed_at = time.monotonic()

    # -- reading -----------------------------------------------------------------------------
    def _lines(self) -> list[bytes]:
        return self.path.read_bytes().split(b"\n") if self.path.exists() else []

    def entries(self) -> list[dict]:
        """Every whole entry, in file order (torn or garbage lines left out)."""
        return [e for e in map(_entry, self._lines()) if e is not None]

    def verify(self) -> list[ChainProblem]:
        """Every problem of the trail: lines that are not entries, entries whose MAC does
        not verify, breaks in the chain, and disagreements with the signed checkpoints."""
        problems: list[ChainProblem] = []
        previous_hash, expected_seq = GENESIS, 1
        seen: dict[int, str] = {}
        lines = self._lines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry = _entry(line)
            if entry is None:
                last = all(not rest.strip() for rest in lines[number:])
                what = (
                    "a torn last line (run `novamind audit repair`)"
                    if last
                    else ("line is not an audit entry")
                )
                problems.append(ChainProblem(number, None, what))
                continue
            seq = entry["seq"]
            if set(entry) != set(FIELDS) or not hmac.compare_digest(
                str(entry["hash"]), _mac(self._key, entry)
            ):
                problems.append(ChainProblem(number, seq, "entry content was edited"))
            if seq != expected_seq:
                kind = "removed" if seq > expected_seq else "reordered"
                problems.append(
                    ChainProblem(
                        number, seq, f"expected entry {expected_seq}, found {seq}: entries {kind}"
                    )
                )
            elif entry.get("prev_hash") != previous_hash:
                problems.append(ChainProblem(number, seq, "does not follow the entry before it"))
            seen[seq] = entry["hash"]
            previous_hash = entry["hash"]
            expected_seq = seq + 1
        return problems + self._against_checkpoints(seen)

    def _against_checkpoints(self, seen: dict[int, str]) -> list[ChainProblem]:
        if self.checkpoints is None:
            return []
        problems = []
        checkpoints = self.checkpoints.all(self.trail)
        if checkpoints and not self.path.exists():
            last = checkpoints[-1]
            return [
                ChainProblem(
                    None,
                    last.seq,
                    f"the trail file is missing; a checkpoint "
                    f"of {last.written_at} records entry {last.seq}",
                )
            ]
        last_seq = max(seen) if seen else 0
        for checkpoint in checkpoints:
            if not signed_by(self._key, checkpoint):
                problems.append(
                    ChainProblem(
                        None,
                        checkpoint.seq,
                        "a checkpoint is not signed with the audit key (forged)",
                    )
                )
            elif checkpoint.seq > last_seq:
                problems.append(
                    ChainProblem(
                        None,
                        checkpoint.seq,
                        f"entries after {last_seq} "
                        f"are missing: a checkpoint of {checkpoint.written_at} "
                        f"records entry {checkpoint.seq} (truncated)",
                    )
                )
            elif seen.get(checkpoint.seq) != checkpoint.head:
                problems.append(
                    ChainProblem(
                        None,
                        checkpoint.seq,
                        f"entry {checkpoint.seq} is not "
                        f"the one checkpointed at {checkpoint.written_at} "
                        "(the trail was replaced or rewritten)",
                    )
                )
        return problems

    # -- repair ---------------------------------------------------------------------------------
    def repair(self) -> Repair:
        """Move torn and garbage lines out of the file (into ``<file>.torn-<time>``) and
        record that, as an entry; whole entries are kept as they are."""
        if not self.path.exists():
            return Repair([], None)
        with self._locked():
            lines = self._lines()
            bad = [n for n, line in enumerate(lines, 1) if line.strip() and _entry(line) is None]
            if not bad:
                return Repair([], None)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            quarantine = self.path.with_name(f"{self.path.name}.torn-{stamp}")
            quarantine.write_bytes(b"\n".join(lines[n - 1] for n in bad) + b"\n")
            os.chmod(quarantine, 0o600)
            kept = [line for n, line in enumerate(lines, 1) if line.strip() and n not in bad]
            replacement = self.path.with_name(f".{self.path.name}.repair")
            replacement.write_bytes(b"".join(line + b"\n" for line in kept))
            os.chmod(replacement, 0o600)
            os.replace(replacement, self.path)
        self.record("audit_repaired", self.path.name, lines=bad, quarantine=quarantine.name)
        return Repair(bad, quarantine)
