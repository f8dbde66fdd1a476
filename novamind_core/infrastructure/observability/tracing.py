"""OpenTelemetry for the twin and the model servers: spans, and the W3C trace context
carried on the calls between them.

``NOVAMIND_OTEL_EXPORTER``: ``none`` (default: no provider, the API's no-op spans),
``console`` (spans as JSON on stdout) or ``otlp`` (OTLP over HTTP to
``OTEL_EXPORTER_OTLP_ENDPOINT``). Span attributes never hold a patient's pseudonym or data:
the model, the route, the outcome.
"""

from __future__ import annotations

from contextlib import contextmanager

from opentelemetry import propagate, trace

_configured = False


def configure(settings, service: str) -> None:
    """Install a tracer provider exporting as configured (once per process)."""
    global _configured
    if _configured or settings.otel_exporter == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if settings.otel_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer():
    return trace.get_tracer("novamind")


@contextmanager
def span(name: str, attributes: dict | None = None, headers: dict | None = None, server=False):
    """A span (a child of the current one, or of the trace context in ``headers``)."""
    context = propagate.extract(headers) if headers is not None else None
    kind = trace.SpanKind.SERVER if server else trace.SpanKind.INTERNAL
    with tracer().start_as_current_span(
        name, context=context, kind=kind, attributes=attributes or {}
    ) as current:
        yield current


def outgoing_headers() -> dict[str, str]:
    """The current trace context as headers (``traceparent``) for a call."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


class TraceMiddleware:
    """ASGI middleware of the model servers: a server span per inference request, a child
    of the caller's trace context when the request carries one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/models/", "/v2/models/")):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        route = (
            "/v2/models/{model}/infer"
            if scope["path"].startswith("/v2/")
            else ("/v1/models/{model}:predict")
        )
        status = {}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with span(f"{scope['method']} {route}", {"http.route": route}, headers, server=True) as s:
            await self.app(scope, receive, sending)
            s.set_attribute("http.response.status_code", status.get("code", 0))
