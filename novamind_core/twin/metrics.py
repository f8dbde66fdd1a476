"""Prometheus metrics of the twin service (exposed on its /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

INSIGHTS_LATENCY = Histogram(
    "novamind_twin_insights_seconds",
    "Time to answer an insights request",
    ["cache"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INSIGHTS = Counter(
    "novamind_twin_insights_total", "Insights answers by completeness", ["completeness"]
)
UPSTREAM_LATENCY = Histogram(
    "novamind_twin_upstream_seconds",
    "One call of the twin to a model server",
    ["model", "status"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UNAVAILABLE = Counter(
    "novamind_twin_unavailable_total", "Parts missing from an answer, by reason", ["part", "reason"]
)
RETRIES = Counter("novamind_twin_retries_total", "Retried calls to a model server", ["model"])
BREAKER_STATE = Gauge(
    "novamind_twin_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["model"]
)
EVENTS = Counter(
    "novamind_twin_events_total",
    "Events consumed by the twin, by topic and outcome",
    ["topic", "outcome"],
)
LIVE_CLIENTS = Gauge("novamind_twin_live_clients", "Open WebSocket subscriptions")
