"""The twin's web service: ``GET /v1/twin/{pseudonym}/insights``, the live WebSocket
``/v1/twin/{pseudonym}/live``, health, readiness and metrics.

Same tokens, roles and audit as the model servers: a clinician, a service or an ML
engineer may ask; every answer is audited (who, which pseudonym, which parts and model
versions). The twin calls the model servers as a service (its API key or service token),
naming the patient by pseudonym only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from novamind_core.domain.errors import AuthenticationError, AuthorizationError, ConfigurationError
from novamind_core.infrastructure.events import topics
from novamind_core.infrastructure.observability import tracing
from novamind_core.infrastructure.serving.auth import PREDICT_ROLES, SUBJECT_HEADER, AuthMiddleware
from novamind_core.infrastructure.serving.micro_batcher import MicroBatcher
from novamind_core.twin import metrics
from novamind_core.twin.live import EventHandler, Watchers
from novamind_core.twin.parts import PARTS
from novamind_core.twin.service import BadRequest, NotFound, Twin, check_request
from novamind_core.twin.upstreams import CallPolicy, Upstream, UpstreamClient

log = logging.getLogger(__name__)
OPEN_PATHS = re.compile(r"^/(healthz|readyz|metrics)$")
FIRST_MESSAGE_SECONDS = 5.0


class JSON(Response):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


def service_headers(settings) -> dict[str, str]:
    """How the twin proves itself to the model servers."""
    if settings.twin_service_token is not None:
        return {"authorization": f"Bearer {settings.twin_service_token.get_secret_value()}"}
    if settings.api_key is not None:
        return {"x-api-key": settings.api_key.get_secret_value()}
    raise ConfigurationError(
        "the twin needs a credential for the model servers: set NOVAMIND_API_KEY (the "
        "servers' API key) or NOVAMIND_TWIN_SERVICE_TOKEN (a token with the service role)"
    )


def upstreams_of(settings) -> dict[str, Upstream]:
    urls = {
        "forecast": settings.twin_forecaster_url,
        "correlations": settings.twin_correlator_url,
        "medications": settings.twin_medication_url,
    }
    return {part: Upstream(part, model, urls[part]) for part, (_, model) in PARTS.items()}


def create_app(settings, transport=None):
    """The twin as an ASGI app (token middleware outermost). ``transport``: an httpx
    transport for the upstream calls (tests)."""
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.events.bus import bus_for
    from novamind_core.infrastructure.security.tokens import token_service
    from novamind_core.infrastructure.store.encryption import FileCipher
    from novamind_core.twin.cache import cache_for

    tracing.configure(settings, "novamind-twin")
    policy = CallPolicy(
        timeout=settings.twin_call_timeout,
        retries=settings.twin_retries,
        breaker_failures=settings.twin_breaker_failures,
        breaker_reset_seconds=settings.twin_breaker_reset_seconds,
    )
    headers = service_headers(settings)
    audit = composition.audit_trail("twin", settings)
    cipher = FileCipher(settings.require_encryption_key())
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        client = UpstreamClient(policy, headers, transport)
        twin = Twin(upstreams_of(settings), client, cache_for(settings), settings.twin_deadline)
        bus = bus_for(settings, client_id="novamind-twin")
        await bus.start()
        watchers = Watchers()
        handler = EventHandler(twin, watchers, bus, cipher, audit)
        bus.consume((topics.SYMPTOM_UPDATES, topics.MODEL_PROMOTIONS), handler)
        state.update(twin=twin, bus=bus, watchers=watchers, handler=handler)
        committer = MicroBatcher(lambda events: audit.record_many(events) or [None] * len(events))
        state["audit"] = committer
        log.info("twin ready: upstreams %s", {u.model: u.url for u in twin.upstreams.values()})
        try:
            yield
        finally:
            await bus.stop()
            await client.close()
            await twin.cache.close()
            audit.checkpoint()

    app = FastAPI(title="NovaMind digital twin", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz():
        return {"status": "live"}

    @app.get("/readyz")
    async def readyz():
        bus = state.get("bus")
        if bus is None or not bus.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return {"status": "ready"}

    @app.get("/metrics")
    async def prometheus():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/twin/{pseudonym}/insights")
    async def insights(pseudonym: str, request: Request):
        started = time.perf_counter()
        try:
            options = check_request(pseudonym, _query(request), settings.max_forecast_horizon)
        except BadRequest as bad:
            return JSONResponse({"error": str(bad)}, status_code=400)
        subject = request.headers.get(SUBJECT_HEADER.decode(), "unknown")
        with tracing.span(
            "twin.insights",
            {"http.route": "/v1/twin/{pseudonym}/insights"},
            dict(request.headers),
            server=True,
        ) as span:
            try:
                answer, cached = await state["twin"].insights(pseudonym, options)
            except NotFound as missing:
                return JSONResponse({"error": str(missing)}, status_code=404)
            span.set_attribute("novamind.cache_hit", cached)
            span.set_attribute("novamind.unavailable", len(answer["unavailable"]))
        await state["audit"].submit(
            (
                "twin_insights",
                "twin",
                {
                    "subject": subject,
                    "patients": [pseudonym],
                    "parts": list(options.include),
                    "sources": {k: v["version"] for k, v in answer["sources"].items()},
                    "unavailable": [u["part"] for u in answer["unavailable"]],
                    "cache": cached,
                },
            )
        )
        complete = (
            "complete"
            if not answer["unavailable"]
            else ("none" if not answer["sources"] else "partial")
        )
        metrics.INSIGHTS.labels(complete).inc()
        metrics.INSIGHTS_LATENCY.labels("hit" if cached else "miss").observe(
            time.perf_counter() - started
        )
        status = 503 if complete == "none" else 200
        return JSON({**answer, "cached": cached}, status_code=status)

    @app.websocket("/v1/twin/{pseudonym}/live")
    async def live(websocket: WebSocket, pseudonym: str):
        try:
            options = check_request(pseudonym, _query(websocket), settings.max_forecast_horizon)
        except BadRequest as bad:
            await websocket.close(code=4400, reason=str(bad)[:120])
            return
        await websocket.accept()
        principal = await _signed_in(websocket, state["gate"])
        if principal is None:
            return
        watchers: Watchers = state["watchers"]
        queue = watchers.watch(pseudonym, options)
        state["audit_direct"].record(
            "twin_live_watch", "twin", subject=principal.subject, patients=[pseudonym]
        )
        try:
            with tracing.span(
                "twin.live",
                {"http.route": "/v1/twin/{pseudonym}/live"},
                dict(websocket.headers),
                server=True,
            ):
                answer, _cached = await state["twin"].insights(pseudonym, options)
            await websocket.send_bytes(
                orjson.dumps({"type": "insights", "reason": "subscribed", "insights": answer})
            )
            closed = asyncio.ensure_future(_until_closed(websocket))
            while True:
                message = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({message, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    message.cancel()
                    break
                await websocket.send_bytes(orjson.dumps(message.result()))
        except (WebSocketDisconnect, NotFound):
            pass
        finally:
            watchers.leave(pseudonym, queue)

    tokens = _token_service_or_none(settings, token_service)
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    gate = AuthMiddleware(app, tokens, api_key, open_paths=OPEN_PATHS, count=False)
    state["gate"] = gate
    state["audit_direct"] = audit
    return gate


def _query(request) -> dict[str, str]:
    """The query parameters; one given twice is refused."""
    items = request.query_params.multi_items()
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise BadRequest("a query parameter is given more than once")
    return dict(items)


def _token_service_or_none(settings, token_service):
    try:
        return token_service(settings)
    except ConfigurationError:
        if settings.api_key is None:
            raise
        log.warning("no token verification key is configured: only the API key is accepted")
        return None


async def _signed_in(websocket: WebSocket, gate: AuthMiddleware):
    """The caller, from the handshake's Authorization or X-API-Key header, else from a
    first message ``{"token": "..."}`` within a few seconds; the socket is closed (4401,
    4403) when there is none or it is refused."""
    headers = {k.lower(): v for k, v in websocket.headers.items()}
    try:
        if "authorization" not in headers and "x-api-key" not in headers:
            first = await asyncio.wait_for(websocket.receive_json(), FIRST_MESSAGE_SECONDS)
            token = first.get("token") if isinstance(first, dict) else None
            if not isinstance(token, str):
                raise AuthenticationError('send {"token": "<JWT>"} first')
            headers = {"authorization": f"Bearer {token}"}
        principal = gate.principal(headers)
        principal.require(*PREDICT_ROLES)
        return principal
    except AuthorizationError as exc:
        await websocket.close(code=4403, reason=str(exc)[:120])
    except (AuthenticationError, TimeoutError, ValueError, WebSocketDisconnect) as exc:
        reason = str(exc) if isinstance(exc, AuthenticationError) else "sign in first"
        await websocket.close(code=4401, reason=reason[:120])
    return None


async def _until_closed(websocket: WebSocket) -> None:
    """Returns when the client goes away (anything it sends is ignored)."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return


def serve(settings, host: str, port: int) -> None:
    """Run the twin with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, loop="uvloop")
