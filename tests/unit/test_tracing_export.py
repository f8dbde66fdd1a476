"""Spans reach an OTLP endpoint when NOVAMIND_OTEL_EXPORTER=otlp (a receiver on loopback
stands in for the collector; the exporting process is a child, since a tracer provider
can be installed only once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

CHILD = """
from novamind_core.infrastructure.settings import load_settings
from novamind_core.infrastructure.observability import tracing
from opentelemetry import trace

tracing.configure(load_settings(), "novamind-test")
with tracing.span("twin.insights", {"http.route": "/v1/twin/{pseudonym}/insights"}):
    headers = tracing.outgoing_headers()
print(headers["traceparent"])
trace.get_tracer_provider().shutdown()  # flushes the batch
"""


def test_spans_are_exported_over_otlp_http_with_the_trace_context():
    received: list[tuple[str, str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            return

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVAMIND_", "OTEL_"))}
        env |= {
            "NOVAMIND_OTEL_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        }
        child = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        server.shutdown()
    assert child.returncode == 0, child.stderr
    traceparent = child.stdout.strip().splitlines()[-1]
    version, trace_id, _span_id, flags = traceparent.split("-")
    assert version == "00" and int(flags, 16) & 1 and len(trace_id) == 32  # sampled
    [(path, kind, body)] = received
    assert path == "/v1/traces" and kind == "application/x-protobuf"
    assert b"twin.insights" in body and bytes.fromhex(trace_id) in body
    assert b"novamind-test" in body  # the service name
