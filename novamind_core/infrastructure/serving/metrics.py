"""Prometheus metrics of the NovaMind predictors (exposed on KServe's /metrics)."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_LATENCY = Histogram(
    "novamind_request_latency_seconds",
    "End-to-end inference latency",
    ["model", "protocol"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REQUESTS = Counter("novamind_requests_total", "Inference requests by outcome", ["model", "status"])
SERVED_VERSION = Gauge(
    "novamind_served_model_version",
    "Registry version being served",
    ["model"],
    multiprocess_mode="livemax",  # with several workers: the newest version any live one serves
)
BATCH_SIZE = Histogram(
    "novamind_micro_batch_size",
    "Requests per micro-batch",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
LOAD_REFUSALS = Counter(
    "novamind_load_refusals_total",
    "Champion versions not loaded: no signed approval, or files that differ from it",
    ["model"],
)
POLL_ERRORS = Counter(
    "novamind_poll_errors_total",
    "Failures of the champion poll (reload, drift tags, payload flush); the poll goes on",
    ["model"],
)
DRIFT_DETECTED = Gauge(
    "novamind_drift_detected",
    "Latest drift verdict of the served champion: 1 drift, 0 no drift, -1 not judged",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)
DRIFT_SCORE = Gauge(
    "novamind_drift_score",
    "Latest drift score per column of the served champion",
    ["model", "version", "column"],
    multiprocess_mode="mostrecent",
)


class MultiProcessMetrics:
    """ASGI middleware answering ``GET /metrics`` with every worker's metrics summed
    (Prometheus multi-process mode); KServe's own handler shows only the process that
    happens to answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/metrics":
            return await self.app(scope, receive, send)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
        headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
