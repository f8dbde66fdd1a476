"""ASGI middleware: bearer tokens (or the service API key) and body-size limits.

Health, readiness and metrics stay open; everything else under /v1 and /v2 needs a
valid token with a role that may call it. Errors are JSON: 401 for a missing, expired
or forged credential, 403 for a wrong role, 413 for an oversized body.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from novamind_core.domain.errors import AuthenticationError, AuthorizationError
from novamind_core.domain.security import Role

OPEN = re.compile(r"^/($|metrics$|v2/health/|v2/?$|v1/models/[^/:]+$|v2/models/[^/]+/ready$)")
SUBJECT_HEADER = b"x-novamind-subject"  # set here only: a client's own value is dropped
PREDICT_ROLES = (Role.CLINICIAN, Role.SERVICE, Role.ML_ENGINEER)
ADMIN_ROLES = (Role.ML_ENGINEER,)


class VerifiedTokens:
    """Bearer tokens already verified, kept until they expire.

    A client sends the same token with every request; checking its signature and claims
    once, not on every request, takes PyJWT off the hot path (4% of the server's time at
    32 clients). The key is the whole token, signature included, so only a byte-identical
    copy of a verified token hits the cache; a cached token is refused once its ``exp``
    has passed. Oldest entries are dropped beyond ``size``."""

    def __init__(self, tokens, size: int = 1024, clock: Callable[[], float] = time.time):
        self.tokens = tokens
        self.size = size
        self.clock = clock
        self._cache: dict[str, tuple[object, float]] = {}

    def principal(self, token: str):
        hit = self._cache.get(token)
        if hit is not None:
            principal, expires = hit
            if self.clock() < expires:
                return principal
            del self._cache[token]
            raise AuthenticationError("token expired")
        principal, expires = self.tokens.verify_until(token)  # raises when invalid
        if len(self._cache) >= self.size:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = (principal, expires)
        return principal


class AuthMiddleware:
    def __init__(
        self,
        app,
        tokens,
        api_key: str | None,
        max_body_bytes: int = 1 << 20,
        models: frozenset[str] = frozenset(),
        open_paths: re.Pattern = OPEN,
        count: bool = True,
    ):
        """``open_paths``: the paths anyone may call (health, metrics); ``count``: count
        responses per served model (the model servers' metric)."""
        self.app = app
        self.open_paths = open_paths
        self.count = count
        self.tokens = VerifiedTokens(tokens) if tokens is not None else None
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.models = models  # the only model names that become metric labels

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.open_paths.match(scope["path"]):
            return await self.app(scope, receive, send)
        # HTTP header bytes are Latin-1 (RFC 9110): any byte decodes, none raises
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.count:
            send = _counting(send, scope["path"], self.models)
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            return await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")
        try:
            principal = self._principal(headers)
            allowed = ADMIN_ROLES if "/repository/" in scope["path"] else PREDICT_ROLES
            principal.require(*allowed)
        except AuthenticationError as exc:
            return await _reply(send, 401, str(exc), {"www-authenticate": "Bearer"})
        except AuthorizationError as exc:
            return await _reply(send, 403, str(exc))
        scope = dict(scope)
        scope["headers"] = [
            (k, v) for k, v in scope.get("headers", []) if k.lower() != SUBJECT_HEADER
        ] + [(SUBJECT_HEADER, principal.subject.encode())]
        body = await _read_body(receive, self.max_body_bytes)  # chunked bodies too
        if body is None:
            return await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")
        return await self.app(scope, _replay(body), send)

    def principal(self, headers: dict[str, str]):
        """The verified caller of a request with these (lower-cased) headers."""
        return self._principal(headers)

    def _principal(self, headers: dict[str, str]):
        from novamind_core.infrastructure.security.tokens import check_api_key

        if "x-api-key" in headers:
            return check_api_key(headers["x-api-key"], self.api_key)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("missing bearer token (Authorization: Bearer <token>)")
        if self.tokens is None:
            raise AuthenticationError("this server accepts only its API key (X-API-Key)")
        return self.tokens.principal(token.strip())


async def _reply(send, status: int, message: str, extra: dict | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


MODEL_IN_PATH = re.compile(r"^/v[12]/models/([^/:]+)")


def _counting(send, path: str, models: frozenset[str]):
    """Count every inference-path response by model and status code; a model name this
    server does not serve is counted as "-" (no label per name a client makes up)."""
    from novamind_core.infrastructure.serving import metrics

    match = MODEL_IN_PATH.match(path)
    model = match.group(1) if match and match.group(1) in models else "-"

    async def wrapped(message):
        if message["type"] == "http.response.start":
            metrics.REQUESTS.labels(model, str(message["status"])).inc()
        await send(message)

    return wrapped
