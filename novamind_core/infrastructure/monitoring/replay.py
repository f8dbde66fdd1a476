"""Replay stored patients through a local server, to produce payloads to monitor.

Starts ``novamind serve --model M`` on a free loopback port, waits until it is ready, sends
one V1 request per stored patient (by pseudonym: the server reads the history from the
store), then stops the server with SIGTERM so that it flushes its payload log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from novamind_core.domain.errors import ServiceUnavailableError


@dataclass
class ReplayResult:
    sent: int
    ok: int
    failed: dict[int, int]  # status code -> count
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_credentials(settings) -> dict[str, str]:
    """The service API key, or a short-lived service token where the signing key is."""
    from novamind_core.domain.errors import ConfigurationError
    from novamind_core.domain.security import Role
    from novamind_core.infrastructure.security.tokens import token_service

    if settings.api_key is not None:
        return {"X-API-Key": settings.api_key.get_secret_value()}
    try:
        token = token_service(settings, signing=True).mint(
            "replay", [Role.SERVICE], timedelta(minutes=30)
        )
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"the replay client needs NOVAMIND_API_KEY or the token signing key: {exc}"
        ) from None
    return {"Authorization": f"Bearer {token}"}


def replay(
    settings,
    model: str,
    keys: list[str],
    log_path: Path,
    concurrency: int = 4,
    ready_timeout: float = 180.0,
    progress=None,
) -> ReplayResult:
    import httpx

    headers = service_credentials(settings)
    port = _free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "novamind_core.cli",
                "serve",
                "--port",
                str(port),
                "--model",
                model,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            deadline = time.monotonic() + ready_timeout
            while True:
                if server.poll() is not None:
                    raise ServiceUnavailableError(
                        f"the server exited with code {server.returncode}; see {log_path}"
                    )
                try:
                    if client.get(f"/v2/models/{model}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceUnavailableError(
                        f"the server was not ready after {ready_timeout:.0f} s (is a champion "
                        f"approved?); see {log_path}"
                    )
                time.sleep(0.5)

            def send(key: str) -> int:
                body = {"instances": [{"patient_key": key}]}
                return client.post(
                    f"/v1/models/{model}:predict", json=body, headers=headers
                ).status_code

            codes = []
            with ThreadPoolExecutor(concurrency) as pool:
                for code in pool.map(send, keys):
                    codes.append(code)
                    if progress is not None:
                        progress(len(codes), len(keys))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    failed: dict[int, int] = {}
    for code in codes:
        if code != 200:
            failed[code] = failed.get(code, 0) + 1
    return ReplayResult(len(codes), codes.count(200), failed, time.perf_counter() - started)
