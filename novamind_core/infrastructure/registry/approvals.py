"""Signed approvals: what binds a reviewer's decision to the artifacts a server runs.

At approval the version's model files are downloaded and digested (SHA-256 over every
file's path and content); the record — model, version, digest, reviewer, time — is
signed with the reviewers' Ed25519 key (``NOVAMIND_APPROVAL_SIGNING_KEY_FILE``, which
registry writers and pipelines do not hold) and kept on the version as two tags. A
server loads a version only through ``load_approved``: the signature verifies with the
public key (``NOVAMIND_APPROVAL_PUBLIC_KEY``), the record names this very version, and
the files it downloaded digest to the approved value — then it loads those verified local
files, never a second download. Anything else is an ``UnapprovedVersion``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from novamind_core.domain.errors import NovaMindError

RECORD_TAG = "approval"
SIGNATURE_TAG = "approval.signature"


class UnapprovedVersion(NovaMindError):
    """A version that must not be served; ``reason`` says why, in a few words."""

    exit_code = 7

    def __init__(self, name: str, version: str, reason: str) -> None:
        super().__init__(f"{name} version {version} is not served: {reason}")
        self.reason = reason


def tree_digest(directory: Path) -> str:
    """SHA-256 over every file below ``directory``: its relative path and its content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _download(name: str, version: str, into: Path) -> Path:
    import mlflow

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=str(into)
        )
    )


def _canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


class MlflowApprovals:
    """Signs approvals (given the signing key) and checks them (given the public key)."""

    def __init__(self, public_key=None, signing_key=None) -> None:
        self.public_key = public_key
        self.signing_key = signing_key

    # -- the reviewer's side ---------------------------------------------------------------
    def sign(self, name: str, version: str, reviewer: str, override: bool) -> None:
        from mlflow.tracking import MlflowClient

        from novamind_core.domain.errors import ConfigurationError
        from novamind_core.infrastructure.registry.tracking import configure

        if self.signing_key is None:
            raise ConfigurationError(
                "NOVAMIND_APPROVAL_SIGNING_KEY_FILE is not set: approvals are signed with the "
                "reviewers' key (create one with `novamind data keygen`)"
            )
        configure()
        with tempfile.TemporaryDirectory() as tmp:
            digest = tree_digest(_download(name, version, Path(tmp)))
        record = {
            "model": name,
            "version": str(version),
            "digest": digest,
            "reviewer": reviewer,
            "approved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "override": bool(override),
        }
        signature = base64.urlsafe_b64encode(self.signing_key.sign(_canonical(record))).decode()
        client = MlflowClient()
        client.set_model_version_tag(name, str(version), RECORD_TAG, _canonical(record).decode())
        client.set_model_version_tag(name, str(version), SIGNATURE_TAG, signature)

    # -- the server's side -------------------------------------------------------------------
    def verified_record(self, name: str, version: str, tags: dict[str, str]) -> dict:
        """The version's approval record, if its signature verifies and it names it."""
        from cryptography.exceptions import InvalidSignature

        text, signature = tags.get(RECORD_TAG), tags.get(SIGNATURE_TAG)
        if not text or not signature:
            raise UnapprovedVersion(name, version, "it carries no signed approval")
        try:
            self.public_key.verify(base64.urlsafe_b64decode(signature), text.encode())
            record = json.loads(text)
        except (InvalidSignature, ValueError, TypeError):
            raise UnapprovedVersion(
                name, version, "its approval signature does not verify"
            ) from None
        if not isinstance(record, dict) or (record.get("model"), record.get("version")) != (
            name,
            str(version),
        ):
            raise UnapprovedVersion(name, version, "its approval names another version")
        return record

    def load_approved(self, name: str, version: str):
        """The Python model of an approved version, loaded from files that digest to the
        approved value (downloaded once, into a folder of this process)."""
        import mlflow
        from mlflow.tracking import MlflowClient

        tags = MlflowClient().get_model_version(name, str(version)).tags
        record = self.verified_record(name, version, tags)
        local = _download(
            name, version, Path(tempfile.mkdtemp(prefix=f"novamind-{name}-v{version}-"))
        )
        if tree_digest(local) != record["digest"]:
            raise UnapprovedVersion(
                name, version, "its files differ from the approved ones (changed after approval)"
            )
        return mlflow.pyfunc.load_model(str(local)).unwrap_python_model()
