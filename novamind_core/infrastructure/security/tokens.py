"""JWT bearer tokens with roles (PyJWT), and the service API key.

People's tokens are signed with a key of their own, apart from the data keys: by default
an Ed25519 key pair (``EdDSA``), whose private half (``NOVAMIND_JWT_SIGNING_KEY_FILE``)
only the token issuer holds, while servers and the CLI verify with the public half
(``NOVAMIND_JWT_PUBLIC_KEY``); in production an identity provider's tokens, verified
through its JWKS endpoint (``NOVAMIND_JWKS_URL``). Every token names its issuer and
audience and has a bounded lifetime. ``HS256`` with ``NOVAMIND_JWT_SECRET`` remains for
setups where whoever verifies may also sign.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from novamind_core.domain.errors import AuthenticationError, ConfigurationError, ValidationError
from novamind_core.domain.security import Principal, Role

ISSUER = "novamind"
AUDIENCE = "novamind-api"
MIN_SECRET_BYTES = 32
MAX_TTL = timedelta(hours=12)


class TokenService:
    """Verifies tokens (and mints them, given the signing key)."""

    def __init__(
        self,
        verify_key: Any,
        algorithm: str = "HS256",
        signing_key: Any = None,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        max_ttl: timedelta = MAX_TTL,
    ) -> None:
        if algorithm.startswith("HS"):
            if not verify_key:
                raise ConfigurationError(
                    "NOVAMIND_JWT_SECRET is not set: tokens cannot be minted or verified"
                )
            if len(str(verify_key).encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"NOVAMIND_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long"
                )
            signing_key = verify_key
        elif verify_key is None:
            raise ConfigurationError(
                "NOVAMIND_JWT_PUBLIC_KEY (or NOVAMIND_JWKS_URL) is not set: tokens cannot be "
                "verified; create a key pair with `novamind data keygen`"
            )
        self._verify_key = verify_key
        self._signing_key = signing_key
        self._algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.max_ttl = max_ttl

    def mint(self, subject: str, roles: list[Role], ttl: timedelta = timedelta(hours=8)) -> str:
        if self._signing_key is None:
            raise ConfigurationError(
                "no token signing key here (NOVAMIND_JWT_SIGNING_KEY_FILE): only the token "
                "issuer holds it"
            )
        if ttl > self.max_ttl:
            hours = self.max_ttl.total_seconds() / 3600
            raise ValidationError(f"a token lives at most {hours:g} hours")
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "roles": [r.value for r in roles],
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._signing_key, algorithm=self._algorithm)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthenticationError says what was wrong."""
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Principal, float]:
        """The principal of a valid token and its expiry (seconds since the epoch)."""
        if not token:
            raise AuthenticationError("missing bearer token")
        try:
            key = self._verify_key
            if isinstance(key, jwt.PyJWKClient):
                key = key.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("token signature is invalid") from None
        except jwt.PyJWKClientError:
            raise AuthenticationError("token signing key is not known") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        if claims["exp"] - claims["iat"] > self.max_ttl.total_seconds() + 60:
            raise AuthenticationError("invalid token: it lives longer than tokens may")
        names, subject = claims.get("roles", []), claims["sub"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise AuthenticationError("invalid token: roles must be a list of role names")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("invalid token: the subject must be a non-empty string")
        roles = set()
        for name in names:
            try:
                roles.add(Role(name))
            except ValueError:
                raise AuthenticationError("token names an unknown role") from None
        return Principal(subject, frozenset(roles)), float(claims["exp"])


def token_service(settings, signing: bool = False) -> TokenService:
    """The token service the settings describe; ``signing``: also load the signing key."""
    algorithm = settings.jwt_algorithm
    common = {
        "algorithm": algorithm,
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "max_ttl": timedelta(minutes=settings.token_max_ttl_minutes),
    }
    if algorithm.startswith("HS"):
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        return TokenService(secret, **common)
    if settings.jwks_url:
        return TokenService(jwt.PyJWKClient(settings.jwks_url), **common)
    from novamind_core.infrastructure.security.signing_keys import (
        read_private_key,
        read_public_key,
    )

    verify = None
    if settings.jwt_public_key:
        verify = read_public_key(settings.jwt_public_key, "NOVAMIND_JWT_PUBLIC_KEY")
    sign = None
    if signing:
        if settings.jwt_signing_key_file is None:
            raise ConfigurationError(
                "NOVAMIND_JWT_SIGNING_KEY_FILE is not set: only the token issuer can mint tokens"
            )
        sign = read_private_key(settings.jwt_signing_key_file, "NOVAMIND_JWT_SIGNING_KEY_FILE")
    return TokenService(verify, signing_key=sign, **common)


def check_api_key(presented: str | None, configured: str | None) -> Principal:
    """Service-to-service calls: a constant-time comparison with NOVAMIND_API_KEY."""
    if not configured:
        raise AuthenticationError("API keys are not enabled (NOVAMIND_API_KEY is not set)")
    if not presented or not hmac.compare_digest(presented.encode(), configured.encode()):
        raise AuthenticationError("invalid API key")
    return Principal("service", frozenset({Role.SERVICE}))
