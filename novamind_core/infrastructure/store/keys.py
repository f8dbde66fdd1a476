"""Derive purpose-specific keys from the one master key (HKDF-SHA256)."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose; different purposes give independent keys."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"novamind/{purpose}/v1".encode()
    ).derive(master)


def key_id(master: bytes) -> str:
    """A public fingerprint of the master key, to tell a wrong key before decrypting."""
    return hmac.new(derive(master, "key-id"), b"novamind-key-check", hashlib.sha256).hexdigest()[
        :16
    ]
