"""How the server answers when a request fails: JSON errors that never repeat the request.

KServe's own handlers answer an unexpected exception with its type and message (``500
{"error": "TypeError : ..."}``) and log every rejected request at ERROR with a traceback;
FastAPI answers a malformed body with the offending input. Here bad input is a 4xx whose
message names the problem (our messages never carry a client's values), logged at INFO;
a fault of the server is a 500 that says only that, logged with the exception's type and
traceback — not its message, which might hold what a client sent.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve.errors import (
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    ServerNotLive,
    ServerNotReady,
    UnsupportedProtocol,
)

log = logging.getLogger(__name__)


def _reply(status: HTTPStatus, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


async def bad_request(request, exc: InvalidInput) -> JSONResponse:
    log.info("rejected a request to %s: %s", request.url.path, exc)
    return _reply(HTTPStatus.BAD_REQUEST, str(exc))


async def unreadable_body(request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        ".".join(str(p) for p in error.get("loc", ())) + ": " + str(error.get("msg", ""))
        for error in exc.errors()
    ]
    return _reply(HTTPStatus.BAD_REQUEST, "the request is not readable: " + "; ".join(problems[:5]))


async def no_such_model(request, exc: ModelNotFound) -> JSONResponse:
    return _reply(HTTPStatus.NOT_FOUND, "no such model on this server")


async def not_ready(request, exc: Exception) -> JSONResponse:
    return _reply(HTTPStatus.SERVICE_UNAVAILABLE, "the model or server is not ready")


async def not_supported(request, exc: Exception) -> JSONResponse:
    return _reply(HTTPStatus.NOT_IMPLEMENTED, "not supported by this server")


async def internal(request, exc: Exception) -> JSONResponse:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("serving %s failed: %s\n%s", request.url.path, type(exc).__name__, frames)
    return _reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


def install_error_handlers(app) -> None:
    """Replace KServe's and FastAPI's exception handlers on ``app``."""
    app.add_exception_handler(InvalidInput, bad_request)
    app.add_exception_handler(RequestValidationError, unreadable_body)
    app.add_exception_handler(ModelNotFound, no_such_model)
    for kind in (ModelNotReady, ServerNotLive, ServerNotReady):
        app.add_exception_handler(kind, not_ready)
    for kind in (NotImplementedError, UnsupportedProtocol):
        app.add_exception_handler(kind, not_supported)
    app.add_exception_handler(Exception, internal)
