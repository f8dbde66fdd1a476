"""Where a drift alert goes: a structured log line, and a webhook when one is configured.

The alert names the model, version, drifted columns and scores; it carries no patient
data. (The Prometheus gauge is set by the serving side from the version's drift tags.)
"""

from __future__ import annotations

import logging

from novamind_core.domain.drift import DriftResult

log = logging.getLogger("novamind_core.drift")


def alert_payload(result: DriftResult) -> dict:
    return {
        "event": "drift_detected",
        "model": result.model,
        "version": result.version,
        "method": result.method,
        "summary": result.summary(),
        "drifted": {
            c.column: {"score": round(c.score, 4), "threshold": c.threshold}
            for c in result.columns
            if c.drifted
        },
        "current_rows": result.current_rows,
    }


class LogAlert:
    def send(self, result: DriftResult) -> None:
        log.warning(
            "drift alert: %s %s: %s",
            result.model,
            result.version,
            result.summary(),
            extra={"alert": alert_payload(result)},
        )


class WebhookAlert:
    """POSTs the alert as JSON; a non-2xx answer or a timeout raises (and is logged)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, result: DriftResult) -> None:
        import httpx

        response = httpx.post(self.url, json=alert_payload(result), timeout=self.timeout)
        response.raise_for_status()
