"""The twin's answer cache: Redis when ``NOVAMIND_REDIS_URL`` is set, in-process otherwise.

An entry is one answer, keyed by pseudonym, the request's options and the model versions
that answered (a new champion makes a new key), held ``NOVAMIND_CACHE_TTL`` seconds and
AES-GCM encrypted with the store's key, bound to its key (an entry copied under another
key does not decrypt). An event about a patient drops every entry of that patient; a
promotion drops them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from novamind_core.infrastructure.store.encryption import FileCipher

log = logging.getLogger(__name__)
PREFIX = "novamind:twin:"


def entry_key(pseudonym: str, options: dict, versions: dict[str, str]) -> str:
    digest = hashlib.sha256(
        json.dumps({"options": options, "versions": versions}, sort_keys=True).encode()
    ).hexdigest()[:24]
    return f"{PREFIX}{pseudonym}:{digest}"


class _Sealed:
    def __init__(self, master_key: bytes):
        self.cipher = FileCipher(master_key)

    def seal(self, key: str, value: dict) -> bytes:
        return self.cipher.encrypt(json.dumps(value, separators=(",", ":")).encode(), key)

    def open(self, key: str, blob: bytes) -> dict | None:
        try:
            return json.loads(self.cipher.decrypt(blob, key))
        except Exception:  # altered, or written under another key: a miss, and said so
            log.warning("a twin cache entry did not decrypt; treated as a miss")
            return None


class MemoryCache(_Sealed):
    """In-process, per patient, with expiry; at most ``size`` patients (oldest dropped)."""

    def __init__(self, master_key: bytes, ttl: int, size: int = 10_000, clock=time.monotonic):
        super().__init__(master_key)
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: dict[str, dict[str, tuple[float, bytes]]] = {}

    async def get(self, key: str) -> dict | None:
        patient = self._entries.get(_patient(key), {})
        hit = patient.get(key)
        if hit is None:
            return None
        expires, blob = hit
        if self.clock() >= expires:
            del patient[key]
            return None
        return self.open(key, blob)

    async def put(self, key: str, value: dict) -> None:
        if self.ttl <= 0:
            return
        pseudonym = _patient(key)
        if pseudonym not in self._entries and len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries.setdefault(pseudonym, {})[key] = (
            self.clock() + self.ttl,
            self.seal(key, value),
        )

    async def invalidate(self, pseudonym: str) -> int:
        return len(self._entries.pop(pseudonym, {}))

    async def clear(self) -> None:
        self._entries.clear()

    async def close(self) -> None:
        return None

    def raw(self) -> list[bytes]:
        """Every stored blob (for tests that look for clear text)."""
        return [blob for p in self._entries.values() for _, blob in p.values()]


class RedisCache(_Sealed):
    """Entries in Redis with SETEX; a patient's entries share the key prefix."""

    def __init__(self, master_key: bytes, ttl: int, url: str):
        import redis.asyncio as redis

        super().__init__(master_key)
        self.ttl = ttl
        self.redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def get(self, key: str) -> dict | None:
        try:
            blob = await self.redis.get(key)
        except Exception as exc:  # a cache that fails is a miss, never a failed answer
            log.warning("twin cache read failed: %s", type(exc).__name__)
            return None
        return None if blob is None else self.open(key, blob)

    async def put(self, key: str, value: dict) -> None:
        if self.ttl <= 0:
            return
        try:
            await self.redis.set(key, self.seal(key, value), ex=self.ttl)
        except Exception as exc:
            log.warning("twin cache write failed: %s", type(exc).__name__)

    async def invalidate(self, pseudonym: str) -> int:
        return await self._drop(f"{PREFIX}{pseudonym}:*")

    async def clear(self) -> None:
        await self._drop(f"{PREFIX}*")

    async def _drop(self, pattern: str) -> int:
        keys = [key async for key in self.redis.scan_iter(match=pattern, count=500)]
        if keys:
            await self.redis.unlink(*keys)
        return len(keys)

    async def close(self) -> None:
        await self.redis.aclose()


def _patient(key: str) -> str:
    return key[len(PREFIX) :].split(":", 1)[0]


def cache_for(settings):
    """Redis when configured, else in-process; the store's key seals the entries."""
    ttl = settings.cache_ttl
    master = settings.require_encryption_key() if ttl > 0 else b"\0" * 32
    if settings.redis_url:
        return RedisCache(master, ttl, settings.redis_url)
    return MemoryCache(master, ttl)
