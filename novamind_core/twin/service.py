"""The twin's answer for one patient: the cache, else the three calls in parallel under one
deadline, each part or the reason it is missing, and the integrated recommendations.

Only complete answers are cached (a partial one would hide an upstream's recovery). The
model versions that answered are remembered per model and are part of the cache key, so a
new champion's first answer makes new keys; a promotion event clears the cache at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime

from novamind_core.domain.twin_recommendations import RuleThresholds, integrate
from novamind_core.infrastructure.observability import tracing
from novamind_core.twin import metrics
from novamind_core.twin.cache import entry_key
from novamind_core.twin.parts import (
    BUILDERS,
    PARTS,
    Options,
    prediction_of,
    request_body,
    rule_inputs,
)
from novamind_core.twin.upstreams import Unavailable, Upstream, UpstreamClient

log = logging.getLogger(__name__)
PSEUDONYM = re.compile(r"^p_[0-9a-f]{24}$")
MIN_LOOKBACK, MAX_LOOKBACK = 28, 365


class BadRequest(ValueError):
    """A request the twin refuses (400), with a message that repeats none of its values."""


class NotFound(LookupError):
    """No model holds anything about this patient (404)."""


def check_request(pseudonym: str, query: dict[str, str], max_horizon: int) -> Options:
    """The options of ``GET /v1/twin/{pseudonym}/insights``, or ``BadRequest``."""
    if not PSEUDONYM.match(pseudonym):
        raise BadRequest("the patient must be named by pseudonym ('p_' + 24 hex digits)")
    unknown = sorted(set(query) - {"forecast_days", "lookback_days", "include"})
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {', '.join(map(repr, unknown[:5]))}; known: "
            "forecast_days, lookback_days, include"
        )
    forecast_days = _whole(query.get("forecast_days", "14"), "forecast_days", 1, max_horizon)
    lookback = _whole(query.get("lookback_days", "30"), "lookback_days", MIN_LOOKBACK, MAX_LOOKBACK)
    asked = [p.strip() for p in query.get("include", ",".join(PARTS)).split(",") if p.strip()]
    wrong = [p for p in asked if p not in PARTS]
    if wrong or not asked:
        raise BadRequest(
            f"include takes a comma-separated list of {', '.join(PARTS)}"
            + (f"; {len(wrong)} unknown part(s)" if wrong else "")
        )
    include = tuple(p for p in PARTS if p in asked)
    return Options(forecast_days, lookback, include)


def _whole(text: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,6}", text or ""):
        raise BadRequest(f"{name} must be a whole number between {low} and {high}")
    value = int(text)
    if not low <= value <= high:
        hint = " (NOVAMIND_MAX_FORECAST_HORIZON)" if name == "forecast_days" else ""
        raise BadRequest(f"{name} must lie between {low} and {high}{hint}")
    return value


class Twin:
    def __init__(
        self,
        upstreams: dict[str, Upstream],
        client: UpstreamClient,
        cache,
        deadline: float,
        thresholds: RuleThresholds | None = None,
    ):
        self.upstreams = upstreams
        self.client = client
        self.cache = cache
        self.deadline = deadline
        self.thresholds = thresholds or RuleThresholds()
        self.versions: dict[str, str] = {}  # model -> version of its last answer

    async def insights(self, pseudonym: str, options: Options) -> tuple[dict, bool]:
        """(the answer, whether it came from the cache)."""
        key = self._key(pseudonym, options)
        cached = await self.cache.get(key)
        if cached is not None:
            return cached, True
        answer = await self._fresh(pseudonym, options)
        if not answer["unavailable"]:
            await self.cache.put(self._key(pseudonym, options), answer)
        return answer, False

    def _key(self, pseudonym: str, options: Options) -> str:
        models = sorted(PARTS[p][1] for p in options.include)
        return entry_key(
            pseudonym, options.as_dict(), {m: self.versions.get(m, "") for m in models}
        )

    async def _fresh(self, pseudonym: str, options: Options) -> dict:
        started = time.perf_counter()
        tasks = {
            part: asyncio.create_task(self._part(part, pseudonym, options))
            for part in options.include
        }
        _done, pending = await asyncio.wait(tasks.values(), timeout=self.deadline)
        for task in pending:
            task.cancel()
        parts, sources, unavailable = {}, {}, []
        for part, task in tasks.items():
            key, model = PARTS[part]
            if task in pending:
                problem = Unavailable(
                    "deadline", f"{model}: no answer within the twin's {self.deadline:g} s deadline"
                )
            else:
                problem = task.exception()
            if problem is None:
                value, source = task.result()
                parts[key], sources[key] = value, source
                continue
            if not isinstance(problem, Unavailable):
                log.error("the %s part failed: %s", part, type(problem).__name__)
                problem = Unavailable("error", f"{model}: its answer could not be read")
            metrics.UNAVAILABLE.labels(part, problem.reason).inc()
            unavailable.append(
                {"part": key, "model": model, "reason": problem.reason, "detail": problem.detail}
            )
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if (
            unavailable
            and not parts
            and all(u["reason"] == "error" and "no stored" in u["detail"] for u in unavailable)
        ):
            raise NotFound("no model server holds data for this patient")
        points, relations, medications = rule_inputs(parts, sources)
        recommendations = integrate(points, relations, medications, self.thresholds)
        return {
            "patient": pseudonym,
            "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "options": options.as_dict(),
            "symptom_forecast": parts.get("symptom_forecast"),
            "biometric_correlations": parts.get("biometric_correlations"),
            "medication_predictions": parts.get("medication_predictions"),
            "integrated_recommendations": [r.as_dict() for r in recommendations],
            "sources": sources,
            "unavailable": unavailable,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def _part(self, part: str, pseudonym: str, options: Options) -> tuple[dict, dict]:
        upstream = self.upstreams[part]
        started = time.perf_counter()
        with tracing.span(f"twin.call {upstream.model}", {"novamind.model": upstream.model}):
            headers = tracing.outgoing_headers()
            answer = await self.client.call(
                upstream, request_body(part, pseudonym, options), headers
            )
        try:
            prediction = prediction_of(answer)
            value = BUILDERS[part](prediction, options)
        except (ValueError, KeyError, TypeError):
            raise Unavailable("error", f"{upstream.model}: its answer could not be read") from None
        version = str(prediction.get("model_version", ""))
        self.versions[upstream.model] = version
        source = {
            "model": upstream.model,
            "version": version,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        return value, source

    async def forget(self, pseudonym: str) -> int:
        return await self.cache.invalidate(pseudonym)

    async def promoted(self, model: str) -> None:
        self.versions.pop(model, None)
        await self.cache.clear()
