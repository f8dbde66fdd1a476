"""The twin and its model servers on one machine: one ``novamind serve --model M`` per
family (each on a free loopback port, as each would be its own InferenceService) and a
``novamind twin serve`` pointed at them. For `novamind twin try`, the benchmark and the
slow end-to-end test; logs go to a folder, every process is stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from novamind_core.domain.errors import ServiceUnavailableError

MODELS = {
    "forecast": "symptom-forecaster",
    "correlations": "biometric-correlator",
    "medications": "medication-response",
}
URL_SETTINGS = {
    "forecast": "NOVAMIND_TWIN_FORECASTER_URL",
    "correlations": "NOVAMIND_TWIN_CORRELATOR_URL",
    "medications": "NOVAMIND_TWIN_MEDICATION_URL",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path
    ready: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Stack:
    servers: dict[str, Process] = field(default_factory=dict)  # by part
    twin: Process | None = None

    def stop(self, part: str) -> None:
        self.servers[part].stop()


def _start(name: str, args: list[str], env: dict, log_dir: Path, port: int) -> Process:
    log = log_dir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "novamind_core.cli", *args, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, port, proc, log)


def _wait(process: Process, path: str, timeout: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            tail = process.log.read_text(errors="replace")[-1500:]
            raise ServiceUnavailableError(f"{process.name} exited before it was ready:\n{tail}")
        try:
            if httpx.get(f"{process.url}{path}", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    return False


@contextmanager
def local_stack(log_dir: Path, twin_env: dict[str, str] | None = None, timeout: float = 240.0):
    """Start the three model servers (ready when their champion is loaded; a family without
    one stays not ready and the twin says so) and the twin; yield the ``Stack``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    stack = Stack()
    try:
        for part, model in MODELS.items():
            stack.servers[part] = _start(
                model,
                ["serve", "--model", model, "--poll-seconds", "5"],
                env,
                log_dir,
                free_port(),
            )
        for server in stack.servers.values():
            if not _wait(server, "/v2/health/live", timeout):
                raise ServiceUnavailableError(f"{server.name} did not start within {timeout} s")
            server.ready = _wait(server, "/v2/health/ready", 20.0)
        urls = {URL_SETTINGS[part]: s.url for part, s in stack.servers.items()}
        stack.twin = _start(
            "twin", ["twin", "serve"], env | urls | (twin_env or {}), log_dir, free_port()
        )
        if not _wait(stack.twin, "/readyz", 60.0):
            raise ServiceUnavailableError("the twin did not become ready within 60 s")
        yield stack
    finally:
        if stack.twin is not None:
            stack.twin.stop()
        for server in stack.servers.values():
            server.stop()
