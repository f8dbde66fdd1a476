"""`novamind console` in a subprocess on a free loopback port, for the browser tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.kafka_broker import free_port


def start_console(env: dict[str, str], root: Path, timeout: float = 60.0):
    """(process, base URL, log file) once /healthz answers; its output goes to console.log."""
    port = free_port()
    log = (root / "console.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "novamind_core.cli", "console", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base, log
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            raise RuntimeError("the console did not start:\n" + (root / "console.log").read_text())
        time.sleep(0.25)
