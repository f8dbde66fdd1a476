"""`novamind serve --workers N`: N server processes sharing one listening socket.

One Python process serves at most one core's worth of requests (its event loop and its
micro-batch thread share the GIL). Each worker here is a whole `novamind serve` process —
its own champion, poll thread, payload-log buffer and token cache — listening on the port
with SO_REUSEPORT, so the kernel spreads new connections over the workers (one shared
listening socket does not: measured, one worker accepted all 32 connections of a burst
and the other none). The audit trail is already safe for concurrent writers (a
file lock around each group commit), payload-log chunks have unique names, and
Prometheus runs in multi-process mode so `/metrics` sums every worker. A worker that dies
is replaced; SIGTERM or Ctrl-C stops them all, each flushing its payload log.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)
GRACE_SECONDS = 30


def serve_workers(settings, options) -> None:
    """``options.workers`` server processes on ``options.host``:``options.port``."""
    host, port = options.host, options.port
    _check_port_free(host, port)
    metrics_dir = Path(tempfile.mkdtemp(prefix="novamind-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # inherited by the workers
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked threads
    stop = threading.Event()

    def start(index: int):
        process = context.Process(
            target=_worker,
            args=(settings, options),
            name=f"novamind-worker-{index}",
            daemon=False,
        )
        process.start()
        log.info("started worker %d (pid %d) on port %d", index, process.pid, port)
        return process

    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    processes = [start(i) for i in range(options.workers)]
    try:
        while not stop.wait(1.0):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    log.error(
                        "worker %d (pid %d) exited with %s; starting another",
                        index,
                        process.pid,
                        process.exitcode,
                    )
                    _mark_dead(process.pid)
                    processes[index] = start(index)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: KServe's graceful stop, then the flush
        for process in processes:
            process.join(GRACE_SECONDS)
            if process.is_alive():
                log.error(
                    "worker pid %d did not stop in %d s; killing it", process.pid, GRACE_SECONDS
                )
                process.kill()
                process.join()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_port_free(host: str, port: int) -> None:
    """Fail now, not in every worker, when another program holds the port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        from novamind_core.domain.errors import ConfigurationError

        raise ConfigurationError(f"cannot listen on port {port}: {exc.strerror}") from None
    finally:
        probe.close()


def _listen(host: str, port: int) -> socket.socket:
    return socket.create_server((host, port), backlog=2048, reuse_port=True)


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _worker(settings, options) -> None:
    from novamind_core.infrastructure.observability.logging import configure_logging
    from serving.server import serve

    configure_logging(settings.log_level, settings.service_name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the supervisor, which stops us
    serve(settings, options, sockets=[_listen(options.host, options.port)])
