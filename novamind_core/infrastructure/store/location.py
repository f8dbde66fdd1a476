"""Where the platform's shared files live: a local folder, or an S3-compatible prefix.

``NOVAMIND_STORE_URI`` names the root: a path (default: the data directory) or
``s3://bucket/prefix`` (endpoint and credentials from ``NOVAMIND_S3_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``). Below it: ``store/`` (the encrypted
dataset versions), ``payloads/<model>/`` (encrypted payload chunks), ``drift/<model>/``
(drift reports) and ``audit-checkpoints/``. Every file is read and written whole, through
pyarrow's filesystems, so the same code runs on a laptop and in a pod on a cluster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from novamind_core.domain.errors import ConfigurationError, ServiceUnavailableError


@dataclass(frozen=True)
class StoreLocation:
    fs: object  # pyarrow.fs.FileSystem
    root: str  # the root's path within ``fs`` (no trailing slash)
    uri: str  # what the root was called, for messages
    endpoint: str | None = None  # the object store's endpoint, for messages

    @classmethod
    def from_uri(
        cls,
        uri: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> StoreLocation:
        from pyarrow import fs

        if uri.startswith("s3://"):
            bucket_and_prefix = uri.removeprefix("s3://").strip("/")
            if not bucket_and_prefix:
                raise ConfigurationError("NOVAMIND_STORE_URI: s3:// needs a bucket")
            options = {
                "access_key": access_key,
                "secret_key": secret_key,
                "connect_timeout": 3.0,
                "request_timeout": 30.0,
                "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=2),
            }
            if endpoint_url:
                scheme, _, host = endpoint_url.partition("://")
                options |= {
                    "endpoint_override": host or scheme,
                    "scheme": scheme if host else "https",
                }
            filesystem = fs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})
            location = cls(filesystem, bucket_and_prefix, uri, endpoint_url or "AWS S3")
            location.check_reachable()
            return location
        path = Path(uri.removeprefix("file://")).expanduser().resolve()
        return cls(fs.LocalFileSystem(), path.as_posix(), path.as_posix())

    @property
    def is_local(self) -> bool:
        return type(self.fs).__name__ == "LocalFileSystem"

    def child(self, *parts: str) -> StoreLocation:
        path = "/".join([self.root, *parts])
        return StoreLocation(
            self.fs, path, f"{self.uri.rstrip('/')}/{'/'.join(parts)}", self.endpoint
        )

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def check_reachable(self) -> None:
        """The bucket exists and answers (a clear error naming the endpoint otherwise)."""
        from pyarrow import fs

        bucket = self.root.split("/", 1)[0]
        try:
            info = self.fs.get_file_info(bucket)
        except OSError as exc:
            raise ServiceUnavailableError(
                f"the object store at {self.endpoint} (NOVAMIND_S3_ENDPOINT_URL) does not "
                f"answer for {self.uri}: {str(exc).splitlines()[0][:160]}"
            ) from None
        if info.type != fs.FileType.Directory:
            raise ConfigurationError(f"NOVAMIND_STORE_URI: bucket {bucket!r} does not exist")

    # -- whole files --------------------------------------------------------------------------
    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a file whole: others see the old content or the new, never half of it
        (a temporary name renamed locally; one PUT on object storage)."""
        path = self._path(name)
        parent = path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if self.is_local:
            temporary = f"{parent}/.{uuid.uuid4().hex}.tmp"
            with self.fs.open_output_stream(temporary) as stream:
                stream.write(data)
            Path(temporary).chmod(0o600)
            self.fs.move(temporary, path)
        else:
            with self.fs.open_output_stream(path) as stream:
                stream.write(data)

    def read_bytes(self, name: str) -> bytes:
        with self.fs.open_input_stream(self._path(name)) as stream:
            return stream.read()

    def exists(self, name: str) -> bool:
        from pyarrow import fs

        return self.fs.get_file_info(self._path(name)).type != fs.FileType.NotFound

    def list(self, name: str = "") -> list[str]:
        """The names directly below ``name`` (empty when it does not exist)."""
        from pyarrow import fs

        selector = fs.FileSelector(self._path(name), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    def delete(self, name: str) -> None:
        """Remove a file, or a folder with everything below it."""
        from pyarrow import fs

        path = self._path(name)
        kind = self.fs.get_file_info(path).type
        if kind == fs.FileType.Directory:
            self.fs.delete_dir(path)
        elif kind == fs.FileType.File:
            self.fs.delete_file(path)
