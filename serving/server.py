"""`novamind serve`: one KServe ModelServer with the champion of every model family."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
GIL_SWITCH_SECONDS = 0.001


@dataclass(frozen=True)
class ServeOptions:
    """How `novamind serve` runs: where it listens (loopback unless told otherwise), how
    often it polls for a new champion, the largest body, worker processes, which models."""

    port: int = 8080
    host: str = "127.0.0.1"
    poll_seconds: float = 30.0
    max_body_bytes: int = 1 << 20
    workers: int = 1
    models: tuple[str, ...] | None = None


def build_models(settings, only: tuple[str, ...] | None = None):
    """One served model per family (or per model named in ``only``), each with its
    champion loaded if it has one."""
    from novamind_core.families import FAMILIES
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.family_descriptor import load
    from novamind_core.infrastructure.serving.champion import champion_loader, update_drift_gauges

    store = composition.dataset_store(settings) if settings.encryption_key is not None else None
    approvals = composition.approvals(settings)
    models = []
    for family in FAMILIES:
        if only is not None and family.model_name not in only:
            continue
        model_class = load(family.serving_class)
        audit = composition.audit_trail(f"{family.model_name}-server", settings)
        history = load(family.history_source)(store, audit) if store is not None else None
        if history is not None:
            _prime(family.model_name, history)
        # payload-log chunks of 2,000 rows: writing one (a DataFrame, Parquet, AES-GCM) holds
        # the GIL for milliseconds, which the event loop waits out; at 800 requests/s a
        # 200-row chunk every quarter second stalled it often. The poll thread writes
        # whatever is buffered every poll interval.
        payloads = composition.payload_log(family.model_name, flush_rows=2000, config=settings)
        if payloads is not None:
            payloads.recover()  # rows journaled by a server that was killed
        model = model_class(
            champion_loader(family.model_name, model_class.servable_from, approvals),
            history,
            payloads,
            audit,
        )
        model.load()
        update_drift_gauges(model)
        models.append(model)
    return models


def _prime(model: str, history) -> None:
    """Read and index the store's latest dataset version before the server listens, so
    that the first request by pseudonym does not pay for it (about 4 s for 10,000 patients
    × 150 days, which once cut a twin's first answers at its deadline). An unknown
    pseudonym reads no patient and audits nothing."""
    started = time.perf_counter()
    try:
        history("p_" + "0" * 24, 1)
    except Exception as exc:  # no dataset yet, or none of this family's tables
        log.info("%s: no stored patients indexed (%s)", model, type(exc).__name__)
        return
    log.info("%s: stored patients indexed in %.1f s", model, time.perf_counter() - started)


def install_auth(settings, max_body_bytes: int, models: list[str]) -> None:
    """Wrap KServe's FastAPI app in the token middleware (``models``: the served names)."""
    from kserve.model_server import app

    from novamind_core.domain.errors import ConfigurationError
    from novamind_core.infrastructure.security.tokens import token_service
    from novamind_core.infrastructure.serving.auth import AuthMiddleware

    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    try:
        tokens = token_service(settings)
    except ConfigurationError:
        if api_key is None:
            raise
        log.warning("no token verification key is configured: only the API key is accepted")
        tokens = None
    if settings.otel_exporter != "none":  # a server span per inference request, the
        # caller's trace continued (added first: it runs inside the token check)
        from novamind_core.infrastructure.observability import tracing

        tracing.configure(settings, "novamind-serve")
        app.add_middleware(tracing.TraceMiddleware)
    app.add_middleware(
        AuthMiddleware,
        tokens=tokens,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        models=frozenset(models),
    )


def _server_class():
    import uvloop
    from kserve import ModelServer
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING
    from kserve.protocol.rest.server import RESTServer

    class NovaMindRESTServer(RESTServer):
        """KServe's REST server without its TimingMiddleware, which reads the process's CPU
        time through psutil on every request only to write a trace log line: 7% of the
        server's time at 32 clients (py-spy). Latency is measured by the Prometheus
        histogram of infrastructure/serving/metrics.py instead."""

        sockets = None  # a listening socket shared by worker processes, or bind the port

        def _add_middlewares(self, app) -> None:
            if self.access_log_format:  # not used by `novamind serve`; KServe's own path
                super()._add_middlewares(app)
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                from novamind_core.infrastructure.serving.metrics import MultiProcessMetrics

                app.add_middleware(MultiProcessMetrics)

        def _register_endpoints(self, app) -> None:
            """KServe's endpoints, V1 predict and V2 infer answered first by the kit's own
            routes."""
            from novamind_core.infrastructure.serving.routes import infer_route, predict_route

            super()._register_endpoints(app)
            app.router.routes[0:0] = [predict_route(self.dataplane), infer_route(self.dataplane)]

        def _add_exception_handlers(self, app) -> None:
            from novamind_core.infrastructure.serving.errors import install_error_handlers

            install_error_handlers(app)

        async def start(self) -> None:
            self.create_application()
            await self._server.serve(sockets=self.sockets)

    class NovaMindModelServer(ModelServer):
        """Registers every model, ready or not: readiness follows the champion's arrival."""

        def _register_and_check_atleast_one_model_is_ready(self, models):
            for model in models:
                self.register_model(model)
                model.enable_latency_logging = self.enable_latency_logging
                model.start()

        sockets = None
        host = "127.0.0.1"

        def start(self, models) -> None:
            """ModelServer.start for one REST worker, with the REST server above."""
            if self.workers != 1 or self.enable_grpc:
                raise ValueError("novamind serve runs one REST worker without gRPC")
            self._register_and_check_atleast_one_model_is_ready(models)
            self._rest_server = NovaMindRESTServer(
                FASTAPI_APP_IMPORT_STRING,
                self.dataplane,
                self.model_repository_extension,
                self.http_port,
                access_log_format=self.access_log_format,
                workers=self.workers,
                grace_period=self.grace_period,
                event_loop=self.event_loop,
                timeout_keep_alive=self.timeout_keep_alive,
                ssl_certfile=self.ssl_certfile,
                ssl_keyfile=self.ssl_keyfile,
            )
            self._rest_server.sockets = self.sockets
            self._rest_server.config.host = self.host  # KServe binds 0.0.0.0
            self.servers.append(self._rest_server.start())
            self.register_signal_handler()
            # uvloop: KServe runs uvicorn inside its own asyncio.run, where uvicorn's loop
            # setting does not apply; the event loop is the server's busiest thread
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(self._serve_on_this_loop())

        async def _serve_on_this_loop(self) -> None:
            asyncio.get_running_loop().set_exception_handler(self.default_exception_handler)
            await self._serve()

    return NovaMindModelServer


def serve(settings, options: ServeOptions, sockets=None) -> None:
    """Serve the champion of every family (or of the models named in ``options``);
    ``options.workers`` > 1 runs that many server processes on one socket
    (serving/workers.py), each of which calls this with ``sockets``."""
    if options.workers > 1 and sockets is None:
        from serving.workers import serve_workers

        serve_workers(settings, options)
        return
    NovaMindModelServer = _server_class()
    import torch

    # One intra-op thread: requests are micro-batched, and on a small machine a thread pool
    # fighting the event loop and XGBoost costs far more than it gains (measured: 18 ms
    # vs about 500 ms per single-patient forecast on 2 busy cores).
    torch.set_num_threads(int(os.environ.get("NOVAMIND_TORCH_THREADS", "1")))
    # The event loop and the micro-batch thread share one GIL. A thread that wants it waits
    # for the holder to let go or for the switch interval to pass (5 ms by default), and
    # the batch thread re-takes it several times per batch (after ONNX Runtime, XGBoost,
    # numpy). 1 ms, measured against 5 in interleaved A/B rounds at 32 clients: +6% V1 and
    # +9% V2 requests/s, p99 41 -> 37 ms; 0.5 and 2 ms did no better.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    from novamind_core.infrastructure.serving.champion import poll_champions

    models = build_models(settings, options.models)
    install_auth(settings, options.max_body_bytes, [m.name for m in models])
    # the loaded model, torch and pandas are long-lived: move them out of the cyclic
    # collector's generations, and collect less often (fewer pauses under load)
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    if not any(m.ready for m in models):
        log.warning("no champion is loaded: the server answers, but is not ready")
    stop = threading.Event()
    threading.Thread(
        target=poll_champions, args=(models, options.poll_seconds, stop), daemon=True
    ).start()
    try:
        # KServe's own per-request latency logging samples CPU time (psutil) on every
        # request; the Prometheus histogram (infrastructure/serving/metrics.py) measures latency
        server = NovaMindModelServer(
            http_port=options.port, enable_grpc=False, workers=1, enable_latency_logging=False
        )
        server.sockets = sockets
        server.host = options.host
        server.start(models)
    finally:
        stop.set()
        for model in models:
            if model.payload_log is not None:
                model.payload_log.close()
            if model.audit is not None:
                model.audit.checkpoint()  # the head as the server leaves it
        asyncio.set_event_loop(asyncio.new_event_loop())
