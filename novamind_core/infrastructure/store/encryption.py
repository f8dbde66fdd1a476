"""AES-256-GCM encryption of whole files (authenticated: tampering is detected)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from novamind_core.domain.errors import DataProcessingError
from novamind_core.infrastructure.store.keys import derive

MAGIC = b"NMENC1"
NONCE_BYTES = 12


class FileCipher:
    """Encrypts bytes bound to a context string (the file's place in the store)."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(derive(master_key, "encryption"))

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, blob: bytes, context: str) -> bytes:
        if not blob.startswith(MAGIC):
            raise DataProcessingError(f"{context}: not an encrypted NovaMind file")
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise DataProcessingError(
                f"{context}: integrity check failed (the file was altered, or another key was used)"
            ) from None
