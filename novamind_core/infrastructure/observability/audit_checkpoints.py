"""Signed checkpoints of the audit trail's head, kept outside the trail's file.

A checkpoint says "entry ``seq`` of trail ``trail`` had MAC ``head``", signed with the
audit key. Kept in a database that is not the trail's folder — PostgreSQL in
production (``NOVAMIND_AUDIT_CHECKPOINT_URL=postgresql+psycopg2://…``), by default a
SQLite file beside the MLflow store — they let ``verify`` see what a chain alone cannot:
a trail cut short, replaced by another valid chain, or deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from novamind_core.domain.errors import ServiceUnavailableError


@dataclass(frozen=True)
class Checkpoint:
    trail: str
    seq: int
    head: str
    written_at: str
    signature: str

    def message(self) -> bytes:
        return f"{self.trail}|{self.seq}|{self.head}|{self.written_at}".encode()


def sign(key: bytes, trail: str, seq: int, head: str) -> Checkpoint:
    written_at = datetime.now(UTC).isoformat(timespec="microseconds")
    unsigned = Checkpoint(trail, seq, head, written_at, "")
    signature = hmac.new(key, unsigned.message(), hashlib.sha256).hexdigest()
    return Checkpoint(trail, seq, head, written_at, signature)


def signed_by(key: bytes, checkpoint: Checkpoint) -> bool:
    expected = hmac.new(key, checkpoint.message(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, checkpoint.signature)


class SqlCheckpoints:
    """Checkpoints in one table of a SQL database (SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = None
        self._table = None

    def _ready(self):
        if self._engine is None:
            import sqlalchemy as sa

            metadata = sa.MetaData()
            self._table = sa.Table(
                "novamind_audit_checkpoints",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("trail", sa.String(200), nullable=False, index=True),
                sa.Column("seq", sa.BigInteger, nullable=False),
                sa.Column("head", sa.String(64), nullable=False),
                sa.Column("written_at", sa.String(40), nullable=False),
                sa.Column("signature", sa.String(64), nullable=False),
            )
            if self.url.startswith("sqlite:///"):
                from pathlib import Path

                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            try:
                engine = sa.create_engine(self.url)
                metadata.create_all(engine)
            except Exception as exc:  # unreachable server, bad URL, no rights
                raise ServiceUnavailableError(
                    f"the audit checkpoint store ({_safe(self.url)}) is not reachable: "
                    f"{type(exc).__name__}"
                ) from None
            self._engine = engine
        return self._engine, self._table

    def add(self, checkpoint: Checkpoint) -> None:
        engine, table = self._ready()
        with engine.begin() as connection:
            connection.execute(
                table.insert().values(
                    trail=checkpoint.trail,
                    seq=checkpoint.seq,
                    head=checkpoint.head,
                    written_at=checkpoint.written_at,
                    signature=checkpoint.signature,
                )
            )

    def all(self, trail: str) -> list[Checkpoint]:
        engine, table = self._ready()
        with engine.connect() as connection:
            rows = connection.execute(
                table.select().where(table.c.trail == trail).order_by(table.c.id)
            ).fetchall()
        return [Checkpoint(r.trail, r.seq, r.head, r.written_at, r.signature) for r in rows]


class ObjectCheckpoints:
    """Checkpoints as objects of their own at a store location (S3-compatible storage on
    a cluster): one small JSON object per checkpoint, never rewritten."""

    def __init__(self, location) -> None:
        self.location = location

    @staticmethod
    def _folder(trail: str) -> str:
        return hashlib.sha256(trail.encode()).hexdigest()[:32]

    def add(self, checkpoint: Checkpoint) -> None:
        name = f"{self._folder(checkpoint.trail)}/{checkpoint.written_at}-{checkpoint.seq}.json"
        self.location.write_bytes(name, json.dumps(checkpoint.__dict__).encode())

    def all(self, trail: str) -> list[Checkpoint]:
        folder = self._folder(trail)
        found = []
        for name in self.location.list(folder):
            data = json.loads(self.location.read_bytes(f"{folder}/{name}"))
            found.append(Checkpoint(**data))
        return sorted(found, key=lambda c: (c.written_at, c.seq))


def _safe(url: str) -> str:
    """A database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
