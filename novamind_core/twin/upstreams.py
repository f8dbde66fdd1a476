"""The twin's calls to the served models: a timeout per attempt, retries with exponential
backoff and jitter on timeouts and 5xx only (tenacity), and a circuit breaker per upstream
(purgatory) that opens after repeated failures and half-opens to probe.

What counts against a breaker: a timeout, a refused connection, a 5xx. What does not: a
4xx (the upstream is healthy; the request, or the patient's data, is not), a model that
is not ready (no champion), and a call cut short by the twin's own deadline. An open
breaker answers at once, without a call. The trace context travels in the headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upstream:
    """One served model the twin asks for one part of its answer."""

    part: str  # forecast, correlations, medications
    model: str  # the registered model's name
    url: str  # the server's base URL

    @property
    def predict_url(self) -> str:
        return f"{self.url.rstrip('/')}/v1/models/{self.model}:predict"


class Unavailable(Exception):
    """Why a part did not arrive: ``reason`` is one of timeout, circuit_open, error,
    no_champion, deadline; ``detail`` says more, without patient data beyond the
    pseudonym."""

    def __init__(self, reason: str, detail: str, status: int | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status = status


class ServerFault(Exception):
    """A 5xx from an upstream: retried, and counted against its breaker."""

    def __init__(self, status: int):
        super().__init__(f"the model server answered {status}")
        self.status = status


class Refused(Exception):
    """A 4xx from an upstream (or a 503 'not ready'): not retried, not a breaker failure."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CallPolicy:
    timeout: float = 2.0  # seconds per attempt
    retries: int = 2  # attempts after the first
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    backoff_initial: float = 0.05
    backoff_max: float = 1.0


class CallTimeout(Exception):
    """No whole answer within the per-attempt timeout: retried, and a breaker failure."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TimeoutException | CallTimeout | ServerFault)


class UpstreamClient:
    """Calls the upstreams over one pooled HTTP client, each behind its own breaker."""

    def __init__(self, policy: CallPolicy, headers: dict[str, str], transport=None):
        self.policy = policy
        self.http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(policy.timeout),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            transport=transport,
        )
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=policy.breaker_failures,
            default_ttl=policy.breaker_reset_seconds,
            exclude=[Refused, asyncio.CancelledError],
        )
        self._states: dict[str, str] = {}
        self.breakers.add_listener(self._on_breaker)

    async def close(self) -> None:
        await self.http.aclose()

    def breaker_state(self, model: str) -> str:
        """closed, opened or half-opened."""
        return self._states.get(model, "closed")

    def _on_breaker(self, name: str, what: str, event) -> None:
        if what == "state_changed":
            self._states[name] = event.state
            level = logging.WARNING if event.state == "opened" else logging.INFO
            log.log(level, "circuit breaker of %s is now %s", name, event.state)
            from novamind_core.twin import metrics

            metrics.BREAKER_STATE.labels(name).set(
                {"closed": 0, "half-opened": 1, "opened": 2}.get(event.state, -1)
            )

    async def call(self, upstream: Upstream, body: dict, headers: dict[str, str]) -> dict:
        """The upstream's JSON answer, or ``Unavailable`` saying why not."""
        from novamind_core.twin import metrics

        policy = self.policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.retries + 1),
            wait=wait_exponential_jitter(initial=policy.backoff_initial, max=policy.backoff_max),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        metrics.RETRIES.labels(upstream.model).inc()
                    return await self._attempt(upstream, body, headers)
        except OpenedState:
            raise Unavailable(
                "circuit_open", f"{upstream.model}: circuit breaker open after repeated failures"
            ) from None
        except (httpx.TimeoutException, CallTimeout):
            raise Unavailable(
                "timeout",
                f"{upstream.model}: no answer within {policy.timeout:g} s "
                f"({policy.retries + 1} attempts)",
            ) from None
        except ServerFault as fault:
            raise Unavailable("error", f"{upstream.model}: {fault}", fault.status) from None
        except httpx.TransportError as exc:
            raise Unavailable(
                "error", f"{upstream.model}: cannot reach the model server ({type(exc).__name__})"
            ) from None
        except Refused as refused:
            reason = "no_champion" if refused.status in (404, 503) else "error"
            raise Unavailable(
                reason, f"{upstream.model}: {refused.message}", refused.status
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, upstream: Upstream, body: dict, headers: dict[str, str]) -> dict:
        breaker = await self.breakers.get_breaker(upstream.model)
        async with breaker:
            started = time.perf_counter()
            try:  # the whole answer within the timeout (httpx's bounds each read alone)
                async with asyncio.timeout(self.policy.timeout):
                    response = await self.http.post(
                        upstream.predict_url, json=body, headers=headers
                    )
            except TimeoutError:
                raise CallTimeout() from None
            from novamind_core.twin import metrics

            metrics.UPSTREAM_LATENCY.labels(upstream.model, str(response.status_code)).observe(
                time.perf_counter() - started
            )
            if response.status_code >= 500 and response.status_code != 503:
                raise ServerFault(response.status_code)
            if response.status_code >= 400:
                raise Refused(response.status_code, _error_of(response))
            return response.json()


def _error_of(response: httpx.Response) -> str:
    """The upstream's own error message (our servers never repeat a client's values)."""
    try:
        message = response.json().get("error")
    except ValueError:
        message = None
    return str(message)[:300] if message else f"answered {response.status_code}"
