"""Ed25519 key pairs for the two kinds of signature people make: tokens and approvals.

The private half lives in a PEM file only its owner may read (on the token issuer's or a
reviewer's machine), never in the ``.env`` that pipelines and servers read; the public
half, 32 bytes in URL-safe base64, is what every verifier is configured with.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from novamind_core.domain.errors import ConfigurationError


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode()


def write_private_key(path: Path) -> str:
    """A new private key at ``path`` (its folder and the file readable by the owner only);
    returns the public half as text. An existing file is kept and its public half given."""
    if path.exists():
        return public_text(read_private_key(path, str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return public_text(key)


def read_private_key(path: Path, setting: str) -> Ed25519PrivateKey:
    """A private key from a PEM file only its owner may read."""
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(f"{setting}: {path} must be readable by its owner only")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"{setting}: cannot read {path} ({exc.strerror})") from None
    except ValueError:
        raise ConfigurationError(f"{setting}: {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{setting}: {path} is not an Ed25519 key")
    return key


def read_public_key(text: str, setting: str) -> Ed25519PublicKey:
    """A public key from its raw 32 bytes in URL-safe base64."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(text.strip()))
    except ValueError:
        raise ConfigurationError(
            f"{setting} must be an Ed25519 public key (32 bytes, base64)"
        ) from None
